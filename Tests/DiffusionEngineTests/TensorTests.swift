import Testing
import CKernels
@testable import DiffusionEngine

@Suite("Tensors: creation, broadcasting, views, kernels")
struct TensorTests {
    @Test func creation() {
        #expect(Tensor.arange(0, 5).scalars == [0, 1, 2, 3, 4])
        #expect(Tensor.arange(1, 2, step: 0.25).scalars == [1, 1.25, 1.5, 1.75])
        #expect(Tensor.linspace(0, 1, count: 5).scalars == [0, 0.25, 0.5, 0.75, 1])
        #expect(Tensor.eye(3).scalars == [1, 0, 0, 0, 1, 0, 0, 0, 1])
        #expect(Tensor.full([2, 2], 3).scalars == [3, 3, 3, 3])
        #expect(Tensor(rows: [[1, 2], [3, 4]]).shape == [2, 2])
        #expect(Tensor(scalar: 2).rank == 0)
    }

    @Test func broadcastingArithmetic() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let b = Tensor([10, 20, 30])
        #expect((a + b).scalars == [11, 22, 33, 14, 25, 36])
        let col = Tensor([1, 2], shape: [2, 1])
        #expect((a * col).scalars == [1, 2, 3, 8, 10, 12])
        #expect((col - b).shape == [2, 3])
        #expect((a / 2).scalars == [0.5, 1, 1.5, 2, 2.5, 3])
        #expect(Shape.broadcast([8, 1, 6, 1], [7, 1, 5]) == [8, 7, 6, 5])
    }

    @Test("a shape mismatch stops with a message naming both shapes, even in optimised code")
    func mismatchMessage() async throws {
        let result = try await #require(processExitsWith: .failure, observing: [\.standardErrorContent]) {
            _ = Tensor.zeros([2, 3]) + Tensor.zeros([4])
        }
        let text = String(decoding: result.standardErrorContent, as: UTF8.self)
        #expect(text.contains("[2, 3]") && text.contains("[4]"), "stderr was: \(text)")
    }

    @Test func viewsShareStorageAndCopyOnWrite() {
        var a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let t = a.transposed()
        #expect(t.shape == [3, 2] && !t.isContiguous)
        #expect(t.scalars == [1, 4, 2, 5, 3, 6])
        #expect(t.storage === a.storage)
        a[0, 0] = 100
        #expect(t[0, 0] == 1, "a view must not see a write made after it was taken (copy-on-write)")
        #expect(a[0, 0] == 100)
        let s = Tensor.arange(0, 10).slice(axis: 0, 2, 9, step: 3)
        #expect(s.scalars == [2, 5, 8])
        #expect(Tensor.arange(0, 6).reshaped([2, -1]).shape == [2, 3])
        #expect(Tensor.zeros([2, 1, 3]).squeezed().shape == [2, 3])
        #expect(Tensor.zeros([2, 3]).unsqueezed(-1).shape == [2, 3, 1])
        #expect(Tensor([1, 2]).expanded(to: [3, 2]).scalars == [1, 2, 1, 2, 1, 2])
        #expect(a.select(axis: 1, 2).scalars == [3, 6])
    }

    @Test func elementwiseMath() {
        let x = Tensor([-2, -0.5, 0, 0.5, 2])
        func close(_ a: [Float], _ b: [Float], _ tol: Float = 2e-6) -> Bool {
            zip(a, b).allSatisfy { Swift.abs($0 - $1) <= tol * Swift.max(1, Swift.abs($1)) }
        }
        #expect(close(x.exp().scalars, x.scalars.map { Foundation_exp($0) }))
        #expect(close(x.sigmoid().scalars, x.scalars.map { 1 / (1 + Foundation_exp(-$0)) }))
        #expect(close(x.silu().scalars, x.scalars.map { $0 / (1 + Foundation_exp(-$0)) }))
        #expect(x.relu().scalars == [0, 0, 0, 0.5, 2])
        #expect(x.abs().scalars == [2, 0.5, 0, 0.5, 2])
        #expect(x.sign().scalars == [-1, -1, 0, 1, 1])
        #expect(x.clamp(min: -1, max: 1).scalars == [-1, -0.5, 0, 0.5, 1])
        // exp over the whole float range, including overflow and underflow.
        let wide = Tensor.linspace(-100, 100, count: 20001)
        let ours = wide.exp().scalars, ref = wide.scalars.map { Foundation_exp($0) }
        for (o, r) in zip(ours, ref) where r.isFinite && r > 1e-37 {
            #expect(Swift.abs(o - r) <= 4e-7 * r, "exp mismatch: \(o) vs \(r)")
        }
        // sin and cos: fast path below 8192, libm above; compare with Double.
        let args = Tensor.linspace(-9000, 9000, count: 100_001).scalars + [0, 1e-8, -1e-8, 3.1415927, 1e6, -1e7]
        let t = Tensor(args)
        for (v, (s, c)) in zip(args, zip(t.sin().scalars, t.cos().scalars)) {
            #expect(Swift.abs(Double(s) - Foundation.sin(Double(v))) < 2e-6 && Swift.abs(Double(c) - Foundation.cos(Double(v))) < 2e-6, "sin/cos(\(v))")
        }
        #expect(Tensor([200]).exp().item == .infinity && Tensor([-200]).exp().item == 0)
        #expect(Tensor([.nan]).exp().item.isNaN)
        #expect(Tensor.where(Tensor([1, 0, 1]), Tensor([1, 2, 3]), Tensor([-1])).scalars == [1, -1, 3])
        #expect(Tensor.maximum(Tensor([1, 5]), Tensor([3, 2])).scalars == [3, 5])
    }

    @Test func reductions() {
        let a = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        #expect(a.sum().item == 21)
        #expect(a.sum(axis: 0).scalars == [5, 7, 9])
        #expect(a.sum(axis: 1, keepDims: true).shape == [2, 1])
        #expect(a.mean(axis: 1).scalars == [2, 5])
        #expect(a.variance(axis: 1).scalars == [1, 1])
        #expect(a.max(axis: 1).scalars == [3, 6])
        #expect(a.argmax(axis: 0).scalars == [1, 1, 1])
        #expect(a.cumsum(axis: 1).scalars == [1, 3, 6, 4, 9, 15])
        #expect(a.cumprod(axis: 1).scalars == [1, 2, 6, 4, 20, 120])
        let sm = a.softmax(axis: 1).sum(axis: 1).scalars
        #expect(sm.allSatisfy { Swift.abs($0 - 1) < 1e-6 })
        let lse = Tensor([1000, 1000]).logsumexp(axis: 0).item
        #expect(Swift.abs(lse - (1000 + 0.6931472)) < 1e-3)
    }

    @Test("matmul agrees with a naive product, through BLAS and the fallback, for every layout")
    func matmulAgainstNaive() {
        func naive(_ a: Tensor, _ b: Tensor) -> [Float] {
            let (m, k, n) = (a.shape[0], a.shape[1], b.shape[1])
            var out = [Float](repeating: 0, count: m * n)
            for i in 0..<m { for j in 0..<n { var s: Double = 0; for p in 0..<k { s += Double(a[i, p]) * Double(b[p, j]) }; out[i * n + j] = Float(s) } }
            return out
        }
        var rng = RandomGenerator(seed: 3)
        for fallback in [0, 1] {
            dl_blas_force_fallback(Int32(fallback))
            defer { dl_blas_force_fallback(0) }
            for (m, k, n) in [(1, 1, 1), (3, 5, 2), (17, 33, 9), (64, 300, 31)] {
                let a = rng.normal([m, k]), b = rng.normal([k, n])
                let at = rng.normal([k, m]).transposed(), bt = rng.normal([n, k]).transposed()
                for (x, y) in [(a, b), (at, b), (a, bt), (at, bt)] {
                    let got = x.matmul(y).scalars, want = naive(x, y)
                    for (g, w) in zip(got, want) { #expect(Swift.abs(g - w) <= 1e-4 * Float(k)) }
                }
            }
        }
        let batched = rng.normal([4, 3, 5]).matmul(rng.normal([5, 2]))
        #expect(batched.shape == [4, 3, 2])
    }
}

import Foundation
func Foundation_exp(_ x: Float) -> Float { Foundation.exp(x) }
