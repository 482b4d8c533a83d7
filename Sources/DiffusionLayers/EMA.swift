import CKernels
import Foundation

/// Exponential moving average of a model's parameters (Polyak averaging), as used for diffusion sampling.
///
/// Each `update()` sets shadow ← shadow − (1 − d)·(shadow − param), with d = `decay(afterUpdates:)`.
/// The shadow starts as a copy of the parameters. All parameters are tracked, frozen ones included.
public final class EMA {
    /// How the decay grows over the first updates; n is the number of updates already applied.
    public enum Warmup: Sendable, Equatable {
        /// Always the target decay.
        case none
        /// min(decay, (1 + n)/(10 + n)) (TensorFlow's `num_updates` rule).
        case ratio
        /// min(decay, 1 − (1 + n/invGamma)^(−power)) (diffusers' `use_ema_warmup`; power 2/3 or 3/4 are common).
        case power(invGamma: Double = 1, power: Double = 2.0 / 3.0)
    }

    public let targetDecay: Double
    public let warmup: Warmup
    /// Updates applied so far.
    public internal(set) var updates = 0
    /// Parameter names and their averaged values, in the model's parameter order.
    public internal(set) var shadow: [(name: String, value: Tensor)]
    let tracked: [Parameter]

    public init(_ model: Module, decay: Double = 0.9999, warmup: Warmup = .none) {
        precondition(decay >= 0 && decay <= 1, "EMA decay must be in [0, 1], got \(decay)")
        targetDecay = decay
        self.warmup = warmup
        let named = model.namedParameters()
        tracked = named.map(\.1)
        shadow = named.map { ($0.0, Self.copy($0.1.value)) }
    }

    /// An EMA whose weight on an update halves every `halfLife` updates: decay = 0.5^(1/halfLife).
    public convenience init(_ model: Module, halfLife: Double, warmup: Warmup = .none) {
        precondition(halfLife > 0, "EMA half-life must be positive, got \(halfLife)")
        self.init(model, decay: Foundation.pow(0.5, 1 / halfLife), warmup: warmup)
    }

    static func copy(_ t: Tensor) -> Tensor { t.detached().contiguous() + Float(0) }

    /// The decay used for the update after `n` previous updates.
    public func decay(afterUpdates n: Int) -> Double {
        let x = Double(n)
        switch warmup {
        case .none: return targetDecay
        case .ratio: return Swift.min(targetDecay, (1 + x) / (10 + x))
        case .power(let g, let p): return Swift.max(0, Swift.min(targetDecay, 1 - Foundation.pow(1 + x / g, -p)))
        }
    }

    /// Moves the shadow toward the current parameters.
    public func update() {
        let oneMinus = Float(1 - decay(afterUpdates: updates))
        for i in shadow.indices {
            tracked[i].value.withUnsafeBufferPointer { p in
                shadow[i].value.withUnsafeMutableBufferPointer { s in
                    dl_ema_update(s.count, s.baseAddress, p.baseAddress, oneMinus)
                }
            }
        }
        updates += 1
    }

    /// Writes the averaged values into `model` (matched by name; e.g. a separate copy used for sampling).
    public func copy(to model: Module) {
        let byName = Dictionary(uniqueKeysWithValues: model.namedParameters())
        for (name, value) in shadow {
            guard let p = byName[name] else { preconditionFailure("EMA: model has no parameter '\(name)'") }
            p.copy(from: value)
        }
    }

    /// Runs `body` with the averaged values swapped into the tracked parameters, then restores them.
    public func withAveragedParameters<R>(_ body: () throws -> R) rethrows -> R {
        let saved = tracked.map { Self.copy($0.value) }
        for (p, s) in zip(tracked, shadow) { p.copy(from: s.value) }
        defer { for (p, v) in zip(tracked, saved) { p.copy(from: v) } }
        return try body()
    }

    /// Replaces the shadow values (checkpoint loading); shapes must match.
    public func load(shadow values: [String: Tensor], updates: Int) throws {
        for (name, current) in shadow {
            guard let v = values[name] else { throw OptimizerStateError(description: "EMA state is missing '\(name)'") }
            guard v.shape == current.shape else {
                throw OptimizerStateError(description: "EMA state '\(name)' has shape \(v.shape), expected \(current.shape)")
            }
        }
        shadow = shadow.map { ($0.name, Self.copy(values[$0.name]!)) }
        self.updates = updates
    }
}
