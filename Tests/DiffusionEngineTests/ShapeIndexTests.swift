import Testing
@testable import DiffusionEngine

@Suite("Shape and index ops: values, gradients and bad input")
struct ShapeIndexTests {
    let m23 = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])  // [[1, 2, 3], [4, 5, 6]]

    @Test func concat() {
        let b = Tensor([7, 8, 9], shape: [1, 3])
        let rows = Tensor.concat([m23, b], axis: 0)
        #expect(rows.shape == [3, 3] && rows.scalars == [1, 2, 3, 4, 5, 6, 7, 8, 9])
        let cols = Tensor.concat([m23, Tensor([10, 20], shape: [2, 1])], axis: -1)
        #expect(cols.shape == [2, 4] && cols.scalars == [1, 2, 3, 10, 4, 5, 6, 20])
        // A transposed view and an empty piece are read in place.
        let t = Tensor.concat([m23.transposed(), Tensor.zeros([0, 2]), Tensor([0, 0], shape: [1, 2])], axis: 0)
        #expect(t.shape == [4, 2] && t.scalars == [1, 4, 2, 5, 3, 6, 0, 0])
        #expect(Tensor.concat([m23], axis: 1).scalars == m23.scalars)
        let e = Tensor.concat([Tensor.zeros([2, 0]), Tensor.zeros([2, 0])], axis: 1)
        #expect(e.shape == [2, 0] && e.scalars.isEmpty)
    }

    @Test func stack() {
        let x = Tensor([1, 2]), y = Tensor([3, 4])
        let s0 = Tensor.stack([x, y], axis: 0)
        #expect(s0.shape == [2, 2] && s0.scalars == [1, 2, 3, 4])
        let s1 = Tensor.stack([x, y], axis: -1)
        #expect(s1.shape == [2, 2] && s1.scalars == [1, 3, 2, 4])
        let s = Tensor.stack([Tensor(scalar: 5), Tensor(scalar: 6), Tensor(scalar: 7)], axis: 0)
        #expect(s.shape == [3] && s.scalars == [5, 6, 7])
        let mid = Tensor.stack([m23, m23 * 10], axis: 1)
        #expect(mid.shape == [2, 2, 3] && mid.scalars == [1, 2, 3, 10, 20, 30, 4, 5, 6, 40, 50, 60])
    }

    @Test func splitAndChunk() {
        let x = Tensor.arange(0, 10).reshaped([2, 5])
        let p = x.split(sizes: [2, 3], axis: 1)
        #expect(p.count == 2 && p[0].shape == [2, 2] && p[1].shape == [2, 3])
        #expect(p[0].scalars == [0, 1, 5, 6] && p[1].scalars == [2, 3, 4, 7, 8, 9])
        let r = x.split(sizes: [1, 0, 1], axis: -2)
        #expect(r.map(\.shape) == [[1, 5], [0, 5], [1, 5]] && r[2].scalars == [5, 6, 7, 8, 9])
        #expect(p[1].storage === x.storage, "split returns views")

        let c = Tensor.arange(0, 7).chunk(3, axis: 0)
        #expect(c.map(\.scalars) == [[0, 1, 2], [3, 4, 5], [6]])
        #expect(Tensor.arange(0, 6).chunk(4, axis: -1).map(\.scalars) == [[0, 1], [2, 3], [4, 5]], "torch.chunk semantics")
        #expect(Tensor.arange(0, 2).chunk(5, axis: 0).map(\.scalars) == [[0], [1]])
        #expect(Tensor.zeros([0, 2]).chunk(3, axis: 0).map(\.shape) == [[0, 2], [0, 2], [0, 2]])
        #expect(x.chunk(2, axis: 0).map(\.scalars) == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9]])
    }

    @Test func padding() {
        let v = Tensor([1, 2, 3])
        #expect(v.padded(axis: 0, before: 2, after: 1).scalars == [0, 0, 1, 2, 3, 0])
        #expect(v.padded(axis: -1, before: 0, after: 2, value: 9).scalars == [1, 2, 3, 9, 9])
        let m = Tensor([1, 2, 3, 4], shape: [2, 2])
        let p = m.padded([(1, 0), (0, 2)], value: -1)
        #expect(p.shape == [3, 4] && p.scalars == [-1, -1, -1, -1, 1, 2, -1, -1, 3, 4, -1, -1])
        let last = m.padded([(1, 1)])
        #expect(last.shape == [2, 4] && last.scalars == [0, 1, 2, 0, 0, 3, 4, 0], "one pair pads the last axis")
        #expect(m.transposed().padded(axis: 0, before: 1, after: 0).scalars == [0, 0, 1, 3, 2, 4])
        // Negative amounts crop.
        let five = Tensor([1, 2, 3, 4, 5])
        #expect(five.padded(axis: 0, before: -1, after: -2).scalars == [2, 3])
        #expect(five.padded(axis: 0, before: -2, after: 1).scalars == [3, 4, 5, 0])
        #expect(five.padded(axis: 0, before: -5, after: 0).shape == [0])
        #expect(m.padded([]).scalars == m.scalars)
        let img = Tensor.ones([1, 2, 2]).padded([(1, 1), (1, 1)])
        #expect(img.shape == [1, 4, 4] && img.sum().item == 4 && img[0, 1, 1] == 1 && img[0, 0, 0] == 0)
    }

    @Test func flipping() {
        #expect(m23.flipped(axis: 0).scalars == [4, 5, 6, 1, 2, 3])
        #expect(m23.flipped(axis: -1).scalars == [3, 2, 1, 6, 5, 4])
        #expect(m23.flipped(axes: [1, 0]).scalars == [6, 5, 4, 3, 2, 1])
        #expect(m23.flipped(axes: []).scalars == m23.scalars)
        #expect(m23.transposed().flipped(axis: 0).scalars == [3, 6, 2, 5, 1, 4])
        #expect(Tensor.arange(0, 8).reshaped([2, 2, 2]).flipped(axes: [1]).scalars == [2, 3, 0, 1, 6, 7, 4, 5])
        #expect(Tensor([1, 2]).expanded(to: [3, 2]).flipped(axes: [0, 1]).scalars == [2, 1, 2, 1, 2, 1])
        #expect(Tensor.zeros([0, 3]).flipped(axis: 1).shape == [0, 3])
        #expect(Tensor(scalar: 4).flipped(axes: [0]).item == 4)
    }

    @Test func gather() {
        let x = Tensor([1, 2, 3, 4], shape: [2, 2])
        #expect(x.gather(axis: 1, indices: Tensor([0, 0, 1, 0], shape: [2, 2])).scalars == [1, 1, 4, 3])
        #expect(x.gather(axis: 0, indices: Tensor([0, 1, 1, 0], shape: [2, 2])).scalars == [1, 4, 3, 2])
        let x33 = Tensor.arange(1, 10).reshaped([3, 3])
        let small = x33.gather(axis: -1, indices: Tensor([2, 0], shape: [2, 1]))
        #expect(small.shape == [2, 1] && small.scalars == [3, 4])
        #expect(x33.transposed().gather(axis: 1, indices: Tensor([2, 1, 0], shape: [3, 1])).scalars == [7, 5, 3])
        #expect(Tensor(scalar: 5).gather(axis: 0, indices: Tensor(scalar: 0)).item == 5)
        #expect(x.gather(axis: 1, indices: Tensor.zeros([2, 0])).shape == [2, 0])

        let leaf = x.requiringGrad()
        leaf.gather(axis: 1, indices: Tensor([0, 0, 1, 0], shape: [2, 2])).sum().backward()
        #expect(leaf.grad?.scalars == [2, 0, 1, 1], "repeated indices add their gradients")
    }

    @Test func scatterAdd() {
        let src = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3])
        let zeros = Tensor.zeros([2, 3])
        let down = zeros.scatterAdd(axis: 0, indices: Tensor([0, 1, 0, 1, 1, 1], shape: [2, 3]), source: src)
        #expect(down.scalars == [1, 0, 3, 4, 7, 6])
        #expect(zeros.scalars == [0, 0, 0, 0, 0, 0], "scatterAdd is out of place")
        let base = Tensor([10, 20, 30, 40], shape: [2, 2])
        let across = base.scatterAdd(axis: -1, indices: Tensor([1, 1, 0, 0, 0, 0], shape: [2, 3]), source: src)
        #expect(across.scalars == [13, 23, 45, 40])
        let partial = Tensor.zeros([2, 2]).scatterAdd(axis: 0, indices: Tensor([1], shape: [1, 1]), source: src)
        #expect(partial.scalars == [0, 0, 1, 0], "source entries beyond the indices are ignored")
        // Inverse of gather for a permutation.
        let perm = Tensor([2, 0, 1], shape: [1, 3])
        let row = Tensor([7, 8, 9], shape: [1, 3])
        #expect(Tensor.zeros([1, 3]).scatterAdd(axis: 1, indices: perm, source: row.gather(axis: 1, indices: perm)).scalars == [7, 8, 9])

        let (b, s) = (Tensor.zeros([2, 2]).requiringGrad(), src.requiringGrad())
        (b.scatterAdd(axis: 0, indices: Tensor([1, 0], shape: [1, 2]), source: s) * Tensor([1, 2, 3, 4], shape: [2, 2])).sum().backward()
        #expect(b.grad?.scalars == [1, 2, 3, 4])
        #expect(s.grad?.scalars == [3, 2, 0, 0, 0, 0], "source gradient: gathered where indexed, zero elsewhere")
    }

    @Test func indexSelect() {
        #expect(m23.indexSelect(axis: 1, indices: [2, 0, 2]).scalars == [3, 1, 3, 6, 4, 6])
        let last = m23.indexSelect(axis: 0, indices: [-1])
        #expect(last.shape == [1, 3] && last.scalars == [4, 5, 6])
        let one = m23.indexSelect(axis: -2, indices: Tensor(scalar: 1))
        #expect(one.shape == [1, 3] && one.scalars == [4, 5, 6])
        #expect(m23.indexSelect(axis: 0, indices: [Int]()).shape == [0, 3])
        #expect(m23.transposed().indexSelect(axis: 0, indices: Tensor([1, 1])).scalars == [2, 5, 2, 5])
        let x = Tensor.arange(0, 12).reshaped([2, 3, 2])
        #expect(x.indexSelect(axis: 1, indices: [2, 0]).scalars == [4, 5, 0, 1, 10, 11, 6, 7])

        let leaf = m23.requiringGrad()
        leaf.indexSelect(axis: 1, indices: [2, 0, 2]).sum().backward()
        #expect(leaf.grad?.scalars == [1, 0, 2, 1, 0, 2])
    }

    @Test func oneHot() {
        let h = Tensor.oneHot(Tensor([2, 0, 1]), classes: 3)
        #expect(h.shape == [3, 3] && h.scalars == [0, 0, 1, 1, 0, 0, 0, 1, 0])
        let h2 = Tensor.oneHot(Tensor([1, 0], shape: [2, 1]), classes: 2)
        #expect(h2.shape == [2, 1, 2] && h2.scalars == [0, 1, 1, 0])
        #expect(Tensor.oneHot(Tensor(scalar: 3), classes: 4).scalars == [0, 0, 0, 1])
        #expect(Tensor.oneHot(Tensor([Float]()), classes: 5).shape == [0, 5])
        #expect(!Tensor.oneHot(Tensor([1, 0]).requiringGrad(), classes: 2).requiresGrad, "oneHot records nothing")
    }

    /// Every coordinate of `shape` in row-major order.
    static func coordinates(_ shape: [Int]) -> [[Int]] {
        shape.reduce([[]]) { acc, n in acc.flatMap { c in (0..<n).map { c + [$0] } } }
    }

    @Test("gather, scatterAdd, concat and flip agree with naive loops on rank-4 views, along every axis")
    func againstNaiveLoops() {
        var rng = RandomGenerator(seed: 11)
        // A permuted (non-contiguous) view of shape [3, 4, 2, 5].
        let x = rng.normal([4, 5, 3, 2]).permuted([2, 0, 3, 1])
        #expect(x.shape == [3, 4, 2, 5] && !x.isContiguous)
        for axis in 0..<4 {
            var idxShape = [2, 3, 2, 4]
            idxShape[axis] = 6
            let idx = rng.integers(idxShape, in: 0..<x.shape[axis])
            let got = x.gather(axis: axis, indices: idx)
            var want = [Float]()
            for p in Self.coordinates(idxShape) {
                var q = p
                q[axis] = Int(idx[p[0], p[1], p[2], p[3]])
                want.append(x[q[0], q[1], q[2], q[3]])
            }
            #expect(got.scalars == want, "gather along axis \(axis)")

            var src = rng.normal(idxShape.map { $0 + 1 })
            src = src.transposed(0, 3).contiguous().transposed(0, 3)  // a strided source, larger than the indices
            let out = x.scatterAdd(axis: axis, indices: idx, source: src)
            var ref = x.scalars
            let xs = Shape.contiguousStrides(x.shape)
            for p in Self.coordinates(idxShape) {
                var q = p
                q[axis] = Int(idx[p[0], p[1], p[2], p[3]])
                ref[zip(q, xs).map(*).reduce(0, +)] += src[p[0], p[1], p[2], p[3]]
            }
            let diff = zip(out.scalars, ref).map { Swift.abs($0 - $1) }.max() ?? 0
            #expect(diff < 1e-5, "scatterAdd along axis \(axis)")

            let cat = Tensor.concat([x, x.slice(axis: axis, 1, 3)], axis: axis)
            let flipped = x.flipped(axes: [axis, (axis + 2) % 4])
            for q in Self.coordinates(cat.shape) {
                var r = q
                if r[axis] >= x.shape[axis] { r[axis] = r[axis] - x.shape[axis] + 1 }
                #expect(cat[q[0], q[1], q[2], q[3]] == x[r[0], r[1], r[2], r[3]])
            }
            for q in Self.coordinates(x.shape) {
                var r = q
                for a in [axis, (axis + 2) % 4] { r[a] = x.shape[a] - 1 - r[a] }
                #expect(flipped[q[0], q[1], q[2], q[3]] == x[r[0], r[1], r[2], r[3]])
            }
        }
    }

    @Test func gradientsOfConcatPadFlip() {
        let (a, b) = (m23.requiringGrad(), Tensor([7, 8, 9], shape: [1, 3]).requiringGrad())
        (Tensor.concat([a, b], axis: 0) * Tensor.arange(0, 9).reshaped([3, 3])).sum().backward()
        #expect(a.grad?.scalars == [0, 1, 2, 3, 4, 5] && b.grad?.scalars == [6, 7, 8])
        let v = Tensor([1, 2, 3]).requiringGrad()
        (v.padded(axis: 0, before: 1, after: 1, value: 5) * Tensor([10, 1, 2, 3, 10])).sum().backward()
        #expect(v.grad?.scalars == [1, 2, 3])
        let f = Tensor([1, 2, 3]).requiringGrad()
        (f.flipped(axis: 0) * Tensor([1, 2, 3])).sum().backward()
        #expect(f.grad?.scalars == [3, 2, 1])
    }
}

/// Bad input stops the process. (The engine is built with -O, where Swift drops precondition messages from the
/// crash report, so these tests can check only that the process stops, not what it says.)
@Suite("Shape and index ops: bad input stops")
struct ShapeIndexPreconditionTests {
    @Test func shapeOps() async {
        await #expect(processExitsWith: .failure) { _ = Tensor.concat([Tensor.zeros([2, 3]), Tensor.zeros([3, 2])], axis: 0) }
        await #expect(processExitsWith: .failure) { _ = Tensor.concat([Tensor.zeros([2, 3]), Tensor.zeros([2])], axis: 1) }
        await #expect(processExitsWith: .failure) { _ = Tensor.concat([Tensor.zeros([2, 3])], axis: 2) }
        await #expect(processExitsWith: .failure) { _ = Tensor.concat([], axis: 0) }
        await #expect(processExitsWith: .failure) { _ = Tensor.stack([Tensor.zeros([2]), Tensor.zeros([3])], axis: 0) }
        await #expect(processExitsWith: .failure) { _ = Tensor.stack([Tensor.zeros([2])], axis: -3) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 5]).split(sizes: [2, 2], axis: 1) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 5]).split(sizes: [6, -1], axis: 1) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([4]).chunk(0, axis: 0) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([4]).padded(axis: 0, before: -3, after: -2) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([4]).padded([(1, 1), (1, 1)]) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 2]).padded(axis: -3, before: 1, after: 1) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 2]).flipped(axes: [0, -2]) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 2]).flipped(axes: [2]) }
    }

    @Test func indexOps() async {
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).gather(axis: 1, indices: Tensor([0, 3], shape: [2, 1])) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).gather(axis: 1, indices: Tensor([0, -1], shape: [2, 1])) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).gather(axis: 1, indices: Tensor([0, 0.5], shape: [2, 1])) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).gather(axis: 1, indices: Tensor([0, 1])) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).gather(axis: 1, indices: Tensor.zeros([3, 1])) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).gather(axis: 2, indices: Tensor.zeros([2, 1])) }
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 3]).scatterAdd(axis: 0, indices: Tensor([2], shape: [1, 1]), source: Tensor.ones([1, 1]))
        }
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 3]).scatterAdd(axis: 0, indices: Tensor.zeros([1, 2]), source: Tensor.ones([1, 1]))
        }
        await #expect(processExitsWith: .failure) {
            _ = Tensor.zeros([2, 3]).scatterAdd(axis: 0, indices: Tensor.zeros([1, 4]), source: Tensor.ones([1, 4]))
        }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).indexSelect(axis: 1, indices: [3]) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).indexSelect(axis: 1, indices: [-4]) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).indexSelect(axis: 0, indices: Tensor([2])) }
        await #expect(processExitsWith: .failure) { _ = Tensor.zeros([2, 3]).indexSelect(axis: 0, indices: Tensor.zeros([1, 1])) }
        await #expect(processExitsWith: .failure) { _ = Tensor.oneHot(Tensor([0, 3]), classes: 3) }
        await #expect(processExitsWith: .failure) { _ = Tensor.oneHot(Tensor([0]), classes: 0) }
    }
}
