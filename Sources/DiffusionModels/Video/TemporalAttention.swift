import DiffusionLayers

/// Attention along time at each spatial position, with adaLN-Zero conditioning (the temporal half of factorised
/// space–time attention, Ho et al. 2022, arXiv 2204.03458; Bertasius et al. 2021's "divided" attention):
///
///     x [B, F, T, D] (F frames of T tokens)  →  x + gate ⊙ Attn_time(LN(x)·(1 + scale) + shift)
///
/// where Attn_time sees, for each clip and token position p, only the F tokens (·, p). Shift, scale and gate come
/// per frame from the conditioning c [B, F, D] through a zero-initialised linear layer, so the block starts as the
/// identity and a pretrained frame model inflated with it is unchanged at initialisation. With `causal`, frame k
/// attends to frames 0…k only (for autoregressive generation and Diffusion Forcing).
public final class TemporalAttention: Module {
    public let norm: LayerNorm, attention: MultiHeadAttention, modulation: Linear
    public let causal: Bool

    public init(hiddenSize d: Int, heads: Int, causal: Bool = false) {
        norm = LayerNorm(d, eps: 1e-6, elementwiseAffine: false)
        attention = MultiHeadAttention(dim: d, heads: heads)
        modulation = Linear(d, 3 * d)
        modulation.weight.value = .zeros(modulation.weight.shape)
        modulation.bias!.value = .zeros(modulation.bias!.shape)
        self.causal = causal
        super.init()
    }

    /// x [B, F, T, D], per-frame conditioning c [B, F, D].
    public func callAsFunction(_ x: Tensor, _ c: Tensor) -> Tensor {
        precondition(x.rank == 4 && c.shape == [x.shape[0], x.shape[1], x.shape[3]],
                     "TemporalAttention expects x [B, F, T, D] and c [B, F, D], got \(x.shape) and \(c.shape)")
        let (b, f, t, d) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
        let m = modulation(c.silu()).chunk(3, axis: -1)          // each [B, F, D]
        let y = norm(x) * (m[1].unsqueezed(2) + 1) + m[0].unsqueezed(2)
        let sequences = y.permuted([0, 2, 1, 3]).reshaped([b * t, f, d])        // one sequence per (clip, position)
        let a = attention(sequences, mask: causal ? .causal : nil).reshaped([b, t, f, d]).permuted([0, 2, 1, 3])
        return x + m[2].unsqueezed(2) * a
    }
}
