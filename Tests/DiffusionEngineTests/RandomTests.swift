import Testing
import CKernels
@testable import DiffusionEngine

@Suite("Counter-based random numbers")
struct RandomTests {
    @Test("Philox4x32-10 matches the Random123 known-answer vectors")
    func philoxKnownAnswers() {
        func run(_ c: [UInt32], _ k: [UInt32]) -> [UInt32] {
            var out = [UInt32](repeating: 0, count: 4)
            dl_philox4x32(c, k, &out)
            return out
        }
        #expect(run([0, 0, 0, 0], [0, 0]) == [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8])
        #expect(run([0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff], [0xffffffff, 0xffffffff]) == [0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd])
        #expect(run([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]) == [0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1])
    }

    @Test("same seed gives the same numbers for 1 and 2 threads")
    func threadInvariance() {
        let saved = Engine.threads
        defer { Engine.threads = saved }
        Engine.threads = 1
        let a = Tensor.randomNormal([300_000], seed: 42, stream: 5)
        let u1 = Tensor.randomUniform([200_001], seed: 42, stream: 6)
        Engine.threads = 2
        let b = Tensor.randomNormal([300_000], seed: 42, stream: 5)
        let u2 = Tensor.randomUniform([200_001], seed: 42, stream: 6)
        #expect(a.scalars == b.scalars)
        #expect(u1.scalars == u2.scalars)
    }

    @Test("a batch drawn whole equals the batch drawn in pieces", arguments: [1, 7, 1000])
    func batchSplitInvariance(_ piece: Int) {
        let n = 1000, d = 3
        let whole = Tensor.randomNormal([n, d], seed: 9, stream: 2).scalars
        var pieces: [Float] = []
        var start = 0
        while start < n {
            let m = Swift.min(piece, n - start)
            pieces += Tensor.randomNormal([m, d], seed: 9, stream: 2, offset: start * d).scalars
            start += m
        }
        #expect(pieces == whole)
    }

    @Test("different streams and seeds differ; moments are right")
    func moments() {
        var g = RandomGenerator(seed: 1)
        let a = g.normal([200_000]), b = g.normal([200_000])
        #expect(a.scalars != b.scalars)
        #expect(Swift.abs(a.mean().item) < 0.01)
        #expect(Swift.abs(a.variance(axis: 0).item - 1) < 0.02)
        let u = g.uniform([200_000], lo: -1, hi: 3)
        #expect(Swift.abs(u.mean().item - 1) < 0.02)
        #expect(u.min().item >= -1 && u.max().item < 3)
        let k = g.integers([100_000], in: 3..<8).scalars
        #expect(Set(k) == [3, 4, 5, 6, 7])
        let perm = g.permutation(50)
        #expect(perm.sorted() == Array(0..<50))
        var g1 = RandomGenerator(seed: 1), g2 = RandomGenerator(seed: 2)
        #expect(g1.normal([10]).scalars != g2.normal([10]).scalars)
    }
}
