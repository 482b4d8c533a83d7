import Foundation

/// Which query–key pairs may attend.
public enum AttentionMask {
    /// 1 where the query may attend to the key, 0 where it may not; broadcast to [B, H, Lq, Lk]
    /// (PyTorch's boolean `attn_mask`). A query row with no allowed key yields NaN, as in PyTorch.
    case allow(Tensor)
    /// Added to the scores before the softmax (PyTorch's float `attn_mask`); use −∞ to block.
    case additive(Tensor)
    /// Query i may attend to keys 0…i (requires Lq ≤ Lk; aligned at the start as in PyTorch's `is_causal`).
    case causal
}

/// softmax(q·kᵀ·scale + mask)·v over tensors [B, H, L, D] (any matching leading axes).
///
/// Built from batched matmul and the fused softmax kernel: the [Lq, Lk] score matrix is materialised per
/// batch and head, which is fine for the short sequences here (a flash-style kernel would avoid it).
public func scaledDotProductAttention(_ q: Tensor, _ k: Tensor, _ v: Tensor, mask: AttentionMask? = nil, scale: Float? = nil) -> Tensor {
    precondition(q.rank >= 2 && q.shape.last == k.shape.last && k.shape.dropLast().last == v.shape.dropLast().last,
                 "attention: q \(q.shape), k \(k.shape), v \(v.shape) do not align")
    let s = scale ?? 1 / Float(q.shape.last!).squareRoot()
    var scores = q.matmul(k.transposed()) * s
    switch mask {
    case .none: break
    case .allow(let m): scores = Tensor.where(m, scores, Tensor(scalar: -.infinity))
    case .additive(let m): scores = scores + m
    case .causal:
        let (lq, lk) = (q.shape[q.rank - 2], k.shape[k.rank - 2])
        var m = Tensor.zeros([lq, lk])
        m.withUnsafeMutableBufferPointer { p in for i in 0..<lq { for j in 0...Swift.min(i, lk - 1) { p[i * lk + j] = 1 } } }
        scores = Tensor.where(m, scores, Tensor(scalar: -.infinity))
    }
    return scores.softmax(axis: -1).matmul(v)
}

/// Multi-head attention with separate query/key/value/output projections.
///
/// Self-attention: `attn(x)` with x [B, L, dim]. Cross-attention: `attn(x, context: c)` with c
/// [B, Lc, contextDim] (keys and values come from the context, e.g. text tokens or a class embedding).
public final class MultiHeadAttention: UnaryModule {
    public let qProj: Linear, kProj: Linear, vProj: Linear, outProj: Linear
    public let dim: Int, heads: Int, contextDim: Int

    public init(dim: Int, heads: Int, contextDim: Int? = nil, bias: Bool = true) {
        precondition(heads > 0 && dim % heads == 0, "attention: dim \(dim) is not divisible by \(heads) heads")
        self.dim = dim
        self.heads = heads
        self.contextDim = contextDim ?? dim
        qProj = Linear(dim, dim, bias: bias)
        kProj = Linear(self.contextDim, dim, bias: bias)
        vProj = Linear(self.contextDim, dim, bias: bias)
        outProj = Linear(dim, dim, bias: bias)
        super.init()
    }

    override public func forward(_ x: Tensor) -> Tensor { self(x, context: nil, mask: nil) }

    public func callAsFunction(_ x: Tensor, context: Tensor? = nil, mask: AttentionMask? = nil) -> Tensor {
        precondition(x.rank == 3 && x.shape[2] == dim, "attention expects [B, L, \(dim)], got \(x.shape)")
        let c = context ?? x
        precondition(c.rank == 3 && c.shape[0] == x.shape[0] && c.shape[2] == contextDim,
                     "attention context must be [\(x.shape[0]), L, \(contextDim)], got \(c.shape)")
        let (b, lq, lk, d) = (x.shape[0], x.shape[1], c.shape[1], dim / heads)
        // [B, L, dim] → [B, H, L, d]
        func split(_ t: Tensor, _ l: Int) -> Tensor { t.reshaped([b, l, heads, d]).permuted([0, 2, 1, 3]) }
        let o = scaledDotProductAttention(split(qProj(x), lq), split(kProj(c), lk), split(vProj(c), lk), mask: mask)
        return outProj(o.permuted([0, 2, 1, 3]).reshaped([b, lq, dim]))
    }
}
