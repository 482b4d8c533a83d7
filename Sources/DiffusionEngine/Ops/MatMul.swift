import CKernels

extension Op {
    static let matmul = Op("matmul")
    static let linalgOps: [Op] = [.matmul]
}

/// How a matrix (the last two axes of a tensor) is handed to GEMM without copying when possible.
struct GEMMOperand {
    let tensor: Tensor   // keeps the storage alive
    let transposed: Bool
    let ld: Int
    let rows: Int, cols: Int

    init(_ t: Tensor) {
        let r = t.shape[t.rank - 2], c = t.shape[t.rank - 1]
        let (sr, sc) = (t.strides[t.rank - 2], t.strides[t.rank - 1])
        rows = r
        cols = c
        if sc == 1 && (sr >= Swift.max(c, 1) || r == 1) {
            tensor = t; transposed = false; ld = Swift.max(sr, c, 1)
        } else if sr == 1 && (sc >= Swift.max(r, 1) || c == 1) {
            tensor = t; transposed = true; ld = Swift.max(sc, r, 1)
        } else {
            let cont = t.detached().contiguous()
            tensor = cont; transposed = false; ld = Swift.max(c, 1)
        }
    }
}

extension Tensor {
    /// Matrix product with NumPy semantics: 2-D × 2-D, batched over leading axes (broadcast), and 1-D
    /// operands promoted to a row or column. GEMM runs through the BLAS; transposed views are not copied.
    public func matmul(_ other: Tensor) -> Tensor {
        precondition(rank >= 1 && other.rank >= 1, "matmul needs tensors of rank ≥ 1, got \(shape) and \(other.shape)")
        if rank == 1 { return unsqueezed(0).matmul(other).squeezed(-2) }
        if other.rank == 1 { return matmul(other.unsqueezed(1)).squeezed(-1) }
        let (m, k) = (shape[rank - 2], shape[rank - 1])
        let (k2, n) = (other.shape[other.rank - 2], other.shape[other.rank - 1])
        precondition(k == k2, "matmul: shapes \(shape) and \(other.shape) do not align (\(k) vs \(k2))")
        let batchA = Array(shape.dropLast(2)), batchB = Array(other.shape.dropLast(2))
        let batch = Shape.broadcast(batchA, batchB, "matmul batch")
        let out = Tensor(uninitialized: batch + [m, n])
        let a = detached(), b = other.detached()
        // One GEMM when b is a shared matrix and a's batch folds into rows.
        if batchB.allSatisfy({ $0 == 1 }) && batchA == batch && (a.rank == 2 || a.isContiguous) {
            let A = a.rank == 2 ? a : a.reshaped([-1, k]), B = GEMMOperand(b.rank == 2 ? b : b.reshaped([k, n]))
            gemm(GEMMOperand(A), B, out.pointer, ldc: n)
        } else {
            let ae = a.expanded(to: batch + [m, k]), be = b.expanded(to: batch + [k, n])
            let nb = Shape.count(batch)
            let aFlat = ae.reshapedBatches(nb), bFlat = be.reshapedBatches(nb)
            for i in 0..<nb {
                gemm(GEMMOperand(aFlat.matrix(i)), GEMMOperand(bFlat.matrix(i)), out.pointer + i * m * n, ldc: n)
            }
        }
        let (na, nb) = (node != nil, other.node != nil)
        let (sa, sb) = (shape, other.shape)
        // A gradient is produced in the layout of its input: for a transposed view (a Linear weight used as Wᵀ)
        // we compute the transposed product, so the gradient reaching the parameter is contiguous.
        let aTransposed = rank == 2 && other.rank == 2 && GEMMOperand(a).transposed && a.strides[0] == 1
        let bTransposed = rank == 2 && other.rank == 2 && GEMMOperand(b).transposed && b.strides[0] == 1
        return Tensor.record(.matmul, out, [self, other]) { g in
            let ga: Tensor? = !na ? nil : (aTransposed ? b.matmul(g.transposed()).transposed() : g.matmul(b.transposed()).sum(toShape: sa))
            let gb: Tensor? = !nb ? nil : (bTransposed ? g.transposed().matmul(a).transposed() : a.transposed().matmul(g).sum(toShape: sb))
            return [ga, gb]
        }
    }

    /// Matrix i of a rank-3 tensor, as a view.
    func matrix(_ i: Int) -> Tensor {
        Tensor(storage: storage, shape: [shape[1], shape[2]], strides: [strides[1], strides[2]], offset: offset + i * strides[0])
    }

    /// Views a [batch…, r, c] tensor as [nb, r, c] without copying when strides allow.
    func reshapedBatches(_ nb: Int) -> Tensor {
        let r = shape[rank - 2], c = shape[rank - 1]
        if rank == 3 { return self }
        if rank == 2 { return Tensor(storage: storage, shape: [1, r, c], strides: [0] + strides, offset: offset) }
        // Leading axes merge when they are contiguous with each other (or all broadcast).
        let lead = Array(strides.dropLast(2)), leadShape = Array(shape.dropLast(2))
        let (cs, cst) = Shape.coalesce(leadShape, [lead])
        if cs.count == 1 { return Tensor(storage: storage, shape: [nb, r, c], strides: [cst[0][0], strides[rank - 2], strides[rank - 1]], offset: offset) }
        return contiguous().reshaped([nb, r, c])
    }
}

/// C = A·B for one matrix pair.
func gemm(_ A: GEMMOperand, _ B: GEMMOperand, _ C: UnsafeMutablePointer<Float>, ldc: Int) {
    withExtendedLifetime((A.tensor, B.tensor)) {
        dl_sgemm(A.transposed ? 1 : 0, B.transposed ? 1 : 0, A.rows, B.cols, A.cols, 1,
                 A.tensor.pointer, A.ld, B.tensor.pointer, B.ld, 0, C, ldc)
    }
}
