import DiffusionEngine

/// Score distillation sampling (Poole et al. 2022, DreamFusion, arXiv 2209.14988): optimise the parameters θ of a
/// differentiable generator x = g(θ) through a frozen diffusion prior. With x_t = α·x + σ·ε the gradient is
/// ∇_θ L_SDS = E_{t,ε}[w(t)·(ε̂(x_t; t) − ε)·∂x/∂θ], the denoising loss's gradient with the network's Jacobian
/// ∂ε̂/∂x_t dropped.
public enum ScoreDistillation {
    /// w·(ε̂(α·x + σ·ε; α, σ) − ε), the SDS gradient with respect to the rendered `x` for one draw `ε` (shape of x).
    public static func gradient(_ model: any Denoiser, _ x: Tensor, at level: NoiseLevel, noise ε: Tensor, weight w: Double = 1) -> Tensor {
        precondition(ε.shape == x.shape, "SDS noise of shape \(ε.shape) for a rendering of shape \(x.shape)")
        precondition(level.sigma > 0, "SDS needs σ > 0")
        let xt = withNoGrad { x.detached() * Float(level.alpha) + ε * Float(level.sigma) }
        return withNoGrad { (model.epsilon(xt, at: level) - ε) * Float(w) }
    }

    /// A scalar whose gradient in θ is (∂x/∂θ)ᵀ·g for the rendering x = g(θ): Σ x ⊙ stop-gradient(g).
    /// `surrogate(x, gradient: g).backward()` then leaves the SDS gradient in θ's `grad`.
    public static func surrogate(_ rendered: Tensor, gradient g: Tensor) -> Tensor {
        (rendered * g.detached()).sum()
    }
}
