import DiffusionEngine

/// Low-rank adaptation of a frozen `Linear` (Hu et al. 2021, arXiv 2106.09685): y = W₀x + b + (α/r)·B·(A·x) with
/// A ∈ ℝ^{r×in} drawn like a Linear weight (U(±1/√in)) and B ∈ ℝ^{out×r} zero, so at initialisation the layer equals
/// its base exactly and only A and B train (r·(in + out) values instead of in·out). Names follow peft's `LoraLayer`:
/// `loraA`, `loraB`, `scaling` = α/r. `merge()` folds (α/r)·BA into W₀ for inference (no extra cost per call);
/// `unmerge()` takes it out again. A rank above min(in, out) is allowed (as in peft) but adds nothing: BA has rank
/// at most min(in, out).
public final class LoRALinear: UnaryModule {
    public let base: Linear
    /// A, [rank, in].
    public let loraA: Parameter
    /// B, [out, rank], zero at initialisation.
    public let loraB: Parameter
    public let rank: Int
    public let alpha: Double
    public private(set) var isMerged = false

    /// Wraps `base` and freezes it. `alpha` defaults to the rank (scaling 1).
    public init(_ base: Linear, rank: Int, alpha: Double? = nil) {
        precondition(rank >= 1, "LoRA rank must be at least 1, got \(rank)")
        base.freeze()
        self.base = base
        self.rank = rank
        self.alpha = alpha ?? Double(rank)
        loraA = Parameter([rank, base.inFeatures], .kaimingUniformDefault(fanIn: base.inFeatures))
        loraB = Parameter([base.outFeatures, rank], .zeros)
        super.init()
    }

    /// α/r.
    public var scaling: Float { Float(alpha / Double(rank)) }

    /// ΔW = (α/r)·B·A, [out, in] (a constant: no gradient).
    public var deltaWeight: Tensor { withNoGrad { loraB.value.matmul(loraA.value) * scaling } }

    override public func forward(_ x: Tensor) -> Tensor {
        let y = base(x)
        if isMerged { return y }
        let rows = x.rank == 2 ? x : x.reshaped([-1, base.inFeatures])
        let update = rows.matmul(loraA.value.transposed()).matmul(loraB.value.transposed()) * scaling
        return y + (x.rank == 2 ? update : update.reshaped(y.shape))
    }

    /// W₀ ← W₀ + ΔW; the forward pass then uses the base alone.
    public func merge() {
        precondition(!isMerged, "LoRALinear is already merged")
        base.weight.copy(from: withNoGrad { base.weight.value + deltaWeight })
        isMerged = true
    }

    /// W₀ ← W₀ − ΔW, undoing `merge()` (up to Float32 rounding).
    public func unmerge() {
        precondition(isMerged, "LoRALinear is not merged")
        base.weight.copy(from: withNoGrad { base.weight.value - deltaWeight })
        isMerged = false
    }
}
