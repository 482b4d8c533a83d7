import DiffusionEngine
import DiffusionLayers

extension ToyMLP {
    /// The concatenated input features of `callAsFunction` (coordinate, level and label embeddings).
    func features(_ x: Tensor, _ c: Tensor, labels: Tensor?) -> Tensor {
        precondition(x.rank == 2 && x.shape[1] == dimension, "ToyMLP(d = \(dimension)) got input of shape \(x.shape)")
        var parts = (0..<dimension).map { sinusoidalEmbedding(x.select(axis: 1, $0) * inputScale, dim: embeddingDim) }
        parts.append(sinusoidalEmbedding(c, dim: embeddingDim))
        if let labelEmbedding {
            parts.append(labelEmbedding(labels ?? Tensor.full([x.shape[0]], Float(classCount))))
        }
        return Tensor.concat(parts, axis: 1)
    }
}

/// A `ToyMLP` with every linear layer wrapped in a `LoRALinear` of the same rank (Hu et al. 2021, arXiv 2106.09685):
/// the base is frozen, `trainableParameters()` are the A and B matrices only, and at initialisation the output equals
/// the base's exactly (B = 0). `merge()` folds the updates into the base's weights.
public final class LoRAToyMLP: Module, NoiseConditionalNetwork {
    public let base: ToyMLP
    public let inp: LoRALinear
    public let blocks: [LoRALinear]
    public let out: LoRALinear

    public init(_ base: ToyMLP, rank: Int, alpha: Double? = nil) {
        base.freeze()
        self.base = base
        inp = LoRALinear(base.inp, rank: rank, alpha: alpha)
        blocks = base.blocks.map { LoRALinear($0, rank: rank, alpha: alpha) }
        out = LoRALinear(base.out, rank: rank, alpha: alpha)
        super.init()
    }

    public var classCount: Int { base.classCount }

    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor? = nil) -> Tensor {
        var h = inp(base.features(x, c, labels: labels)).silu()
        for b in blocks { h = h + b(h).silu() }
        return out(h)
    }

    public func merge() { for l in [inp] + blocks + [out] { l.merge() } }
    public func unmerge() { for l in [inp] + blocks + [out] { l.unmerge() } }
}

/// A ControlNet-style adapter for a frozen `ToyMLP` (Zhang et al. 2023, arXiv 2302.05543): a trainable copy of the
/// base's input layer and residual blocks reads the features plus Z_c(control), and after the input layer and
/// after each block a zero-initialised linear layer Z_k adds the copy's hidden state to the base's:
/// h'_0 = h_0 + Z_0(g_0), h'_{k+1} = h'_k + SiLU(W_k h'_k + b_k) + Z_{k+1}(g_{k+1}). All Z start at zero, so the
/// adapted network equals the base at initialisation, yet ∂L/∂Z_k = (∂L/∂h'_k)·g_kᵀ ≠ 0.
public final class ControlledToyMLP: Module, NoiseConditionalNetwork {
    public let base: ToyMLP
    /// Size of the control input.
    public let controlDimension: Int
    /// Z_c: control → width, zero at initialisation.
    public let controlIn: Linear
    /// The trainable copy of the base's input layer and blocks (initialised with the base's weights).
    public let copyInp: Linear
    public let copyBlocks: [Linear]
    /// Z_0…Z_L: width → width, zero at initialisation.
    public let zeroLayers: [Linear]
    /// The control of the next forward passes, [n, controlDimension] (or [1, controlDimension] for all).
    public var control: Tensor

    public init(_ base: ToyMLP, controlDimension: Int) {
        precondition(controlDimension >= 1, "a control needs at least one value")
        base.freeze()
        self.base = base
        self.controlDimension = controlDimension
        let width = base.inp.outFeatures
        func copy(_ l: Linear) -> Linear {
            let c = Linear(l.inFeatures, l.outFeatures)
            c.weight.copy(from: l.weight.value)
            if let b = l.bias, let cb = c.bias { cb.copy(from: b.value) }
            return c
        }
        func zero(_ i: Int, _ o: Int) -> Linear {
            let z = Linear(i, o)
            z.weight.copy(from: .zeros([o, i]))
            z.bias?.copy(from: .zeros([o]))
            return z
        }
        controlIn = zero(controlDimension, width)
        copyInp = copy(base.inp)
        copyBlocks = base.blocks.map(copy)
        zeroLayers = (0...base.blocks.count).map { _ in zero(width, width) }
        control = .zeros([1, controlDimension])
        super.init()
    }

    public var classCount: Int { base.classCount }

    public func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor? = nil) -> Tensor {
        precondition(control.rank == 2 && control.shape[1] == controlDimension && (control.shape[0] == 1 || control.shape[0] == x.shape[0]),
                     "control of shape \(control.shape) for \(x.shape[0]) samples and \(controlDimension) values")
        let f = base.features(x, c, labels: labels)
        var g = (copyInp(f) + controlIn(control)).silu()
        var h = base.inp(f).silu() + zeroLayers[0](g)
        for (k, b) in base.blocks.enumerated() {
            g = g + copyBlocks[k](g).silu()
            h = h + b(h).silu() + zeroLayers[k + 1](g)
        }
        return base.out(h)
    }
}
