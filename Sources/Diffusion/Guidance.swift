import DiffusionEngine

/// A denoiser that can be conditioned on class labels ([n], exact Float indices); `labels: nil` is the
/// unconditional (null-condition) prediction, which is also `denoise(_:at:)`.
public protocol ConditionalDenoiser: Denoiser {
    func denoise(_ x: Tensor, at level: NoiseLevel, labels: Tensor?) -> Tensor
}

/// A classifier of noisy samples: log p(y | x) at a level, shape [n, classes], differentiable in x.
public protocol NoiseConditionalClassifier {
    func classLogProbabilities(_ x: Tensor, at level: NoiseLevel) -> Tensor
}

extension LabelledMixture: ConditionalDenoiser, NoiseConditionalClassifier {
    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { marginal.denoise(x, at: level) }
    public func denoise(_ x: Tensor, at level: NoiseLevel, labels: Tensor?) -> Tensor {
        labels.map { denoise(x, at: level, labels: $0) } ?? marginal.denoise(x, at: level)
    }
}

/// Classifier-free guidance (Ho & Salimans 2022, arXiv 2207.12598) as a denoiser, so every sampler can use it:
/// D̃ = D(x; ∅) + w·(D(x; y) − D(x; ∅)). At one level x̂₀, ε̂ and v̂ are affine in each other with the same x, so
/// this equals guidance on ε or v. w = 1 is the conditional model, w = 0 the unconditional one.
///
/// Guidance rescale φ (Lin et al. 2023, arXiv 2305.08891, §3.4, Algorithm 2): the guided prediction is scaled
/// to the per-sample standard deviation of the conditional one, D_r = D̃·std(D(x; y))/std(D̃), and mixed back,
/// φ·D_r + (1 − φ)·D̃ (applied here to x̂₀; std over all but the batch axis). Two model calls per evaluation.
public struct ClassifierFreeGuidance<Base: ConditionalDenoiser>: Denoiser {
    public let base: Base
    public let labels: Tensor
    public let scale: Double
    public let rescale: Double

    public init(_ base: Base, labels: Tensor, scale: Double, rescale: Double = 0) {
        precondition(scale.isFinite && (0...1).contains(rescale), "guidance needs a finite scale and 0 ≤ φ ≤ 1")
        (self.base, self.labels, self.scale, self.rescale) = (base, labels, scale, rescale)
    }

    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        let conditional = base.denoise(x, at: level, labels: labels)
        if scale == 1 { return conditional }
        let unconditional = base.denoise(x, at: level, labels: nil)
        let guided = unconditional + (conditional - unconditional) * Float(scale)
        guard rescale > 0 else { return guided }
        let n = x.shape[0]
        func std(_ t: Tensor) -> Tensor {
            (t.reshaped([n, -1]).variance(axis: 1, keepDims: true, correction: 0) + 1e-20).sqrt()
                .reshaped([n] + Array(repeating: 1, count: x.rank - 1))
        }
        let rescaled = guided * (std(conditional) / std(guided))
        return rescaled * Float(rescale) + guided * Float(1 - rescale)
    }
}

/// Classifier guidance (Dhariwal & Nichol 2021, arXiv 2105.05233; Song et al. 2021, arXiv 2011.13456, §I):
/// ∇ log p(x | y) = ∇ log p(x) + w·∇ log p(y | x), i.e. D̃ = D + (σ²/α)·w·∇ₓ log p(y | x), with the gradient of a
/// noise-conditional classifier taken by autograd. w = 1 with the exact classifier is the exact conditional
/// denoiser.
public struct ClassifierGuidance<Base: Denoiser, Classifier: NoiseConditionalClassifier>: Denoiser {
    public let base: Base
    public let classifier: Classifier
    public let labels: Tensor
    public let scale: Double

    public init(_ base: Base, classifier: Classifier, labels: Tensor, scale: Double) {
        precondition(scale.isFinite, "guidance needs a finite scale")
        (self.base, self.classifier, self.labels, self.scale) = (base, classifier, labels, scale)
    }

    /// ∇ₓ log p(y_i | x_i) for every sample.
    public func classifierGradient(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        GradMode.$isEnabled.withValue(true) {
            let leaf = x.detached().requiringGrad()
            let logp = classifier.classLogProbabilities(leaf, at: level)
            logp.gather(axis: 1, indices: labels.reshaped([x.shape[0], 1])).sum().backward()
            return leaf.grad!
        }
    }

    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        let d = base.denoise(x, at: level)
        guard scale != 0 && level.sigma > 0 else { return d }
        precondition(level.alpha > 0, "classifier guidance needs α > 0 (x̂₀ = (x + σ²∇log p)/α)")
        return d + classifierGradient(x, at: level) * Float(scale * level.sigma * level.sigma / level.alpha)
    }
}
