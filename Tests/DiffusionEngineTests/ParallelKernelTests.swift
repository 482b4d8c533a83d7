import CKernels
import Testing
@testable import DiffusionEngine

/// Kernels that split their work over the pool (element-wise, layout, reductions, normalisation, the column path of
/// strided convolutions) give bit-identical results on 1 and 2 threads, forward and backward, on tensors large
/// enough to be split (≥ 2¹⁵ elements) and with the ragged and broadcast shapes that exercise each split.
@Suite("Pool-parallel kernels: 1 and 2 threads agree bit for bit", .serialized)
struct ParallelKernelTests {
    /// Runs `body` on 1 and on 2 threads and compares the bit patterns of every tensor it returns.
    func agree(_ what: String, _ body: () -> [Tensor]) {
        let saved = Engine.threads
        defer { Engine.threads = saved }
        Engine.threads = 1
        let one = body()
        Engine.threads = 2
        let two = body()
        #expect(one.count == two.count)
        for (i, (a, b)) in zip(one, two).enumerated() {
            #expect(a.shape == b.shape, "\(what) #\(i): shapes")
            #expect(a.scalars.map(\.bitPattern) == b.scalars.map(\.bitPattern), "\(what) #\(i) differs between 1 and 2 threads")
        }
    }

    /// The value and the input gradients of Σ f(inputs)·r.
    func valueAndGrads(_ inputs: [Tensor], _ f: ([Tensor]) -> Tensor) -> [Tensor] {
        let leaves = inputs.map { $0.requiringGrad() }
        let y = f(leaves)
        (y * testInput(y.shape, seed: 99)).sum().backward()
        return [y] + leaves.map { $0.grad! }
    }

    @Test func unaryAndBinary() {
        let x = testInput([3, 70001], seed: 1), y = testInput([3, 70001], seed: 2)
        agree("silu") { valueAndGrads([x]) { $0[0].silu() } }
        agree("exp, sin") { valueAndGrads([x]) { ($0[0] * 0.1).exp() + $0[0].sin() } }
        agree("a·b + a/b") { valueAndGrads([x, y]) { $0[0] * $0[1] + $0[0] / ($0[1].abs() + 1) } }
        // Broadcasting: a row, a column and a scalar against a matrix (rows split, one row split inside).
        let row = testInput([1, 70001], seed: 3), col = testInput([3, 1], seed: 4), wide = testInput([1, 200_003], seed: 5)
        agree("broadcast rows") { valueAndGrads([x, row, col]) { $0[0] + $0[1] * $0[2] } }
        agree("one long row") { valueAndGrads([wide]) { $0[0] * 2 + Tensor(scalar: 1) } }
        let big = testInput([64, 32, 16, 16], seed: 6), te = testInput([64, 32, 1, 1], seed: 7)
        agree("channel broadcast") { valueAndGrads([big, te]) { $0[0] + $0[1] } }
    }

    @Test func layoutAndReductions() {
        let x = testInput([64, 33, 17, 9], seed: 8)
        agree("permuted copy") { valueAndGrads([x]) { $0[0].permuted([0, 2, 3, 1]).contiguous() } }
        agree("sums over axes") { [x.sum(axes: [2, 3]), x.sum(axes: [0]), x.sum(axis: 1), x.max(axis: 3)] }
        agree("softmax") { valueAndGrads([x]) { $0[0].softmax(axis: -1) } }
        agree("softmax, middle axis") { valueAndGrads([x]) { $0[0].softmax(axis: 1) } }
        agree("fill") { [Tensor.zeros([300_001]) + 1, Tensor.ones([70_000, 3])] }
    }

    @Test func groupNormAndColumnConvolution() {
        let x = testInput([16, 32, 16, 16], seed: 9), w = testInput([32], seed: 10), b = testInput([32], seed: 11)
        agree("group norm") { valueAndGrads([x, w, b]) { $0[0].groupNormalized(groups: 8, weight: $0[1], bias: $0[2]) } }
        // Stride 2 and transposed stride 2 run im2col/col2im, layout transposes and the bias kernels.
        let k = testInput([24, 32, 3, 3], seed: 12, scale: 0.1), kt = testInput([32, 24, 4, 4], seed: 13, scale: 0.1)
        let bias = testInput([24], seed: 14)
        agree("conv stride 2") { valueAndGrads([x, k, bias]) { $0[0].conv2d(weight: $0[1], bias: $0[2], stride: 2, padding: 1) } }
        agree("conv transpose stride 2") { valueAndGrads([x, kt, bias]) { $0[0].convTranspose2d(weight: $0[1], bias: $0[2], stride: 2, padding: 1) } }
        agree("direct conv") { valueAndGrads([x, testInput([24, 32, 3, 3], seed: 15), bias]) { $0[0].conv2d(weight: $0[1], bias: $0[2], padding: 1) } }
    }
}
