/// A module that owns a random generator whose position is part of the training state, so a resumed run
/// draws the same masks as an uninterrupted one (see `TrainingState`).
public protocol RandomStateful: Module {
    var generator: RandomGenerator { get set }
}

extension Module {
    /// The generators of all `RandomStateful` modules in the tree, by module path.
    public func namedGenerators() -> [(String, RandomGenerator)] {
        namedModules().compactMap { name, m in (m as? RandomStateful).map { (name, $0.generator) } }
    }

    /// Restores generators saved by `namedGenerators()`; paths not present are left alone.
    public func setGenerators(_ saved: [String: RandomGenerator]) {
        for (name, m) in namedModules() {
            if let r = m as? RandomStateful, let g = saved[name] { r.generator = g }
        }
    }
}

/// Zeroes each element with probability `p` and scales the rest by 1/(1−p) in training; identity in eval.
///
/// Masks come from a counter-based generator seeded at construction (from the parameter-init context), one
/// stream per call, so runs are reproducible and resumable.
public final class Dropout: UnaryModule, RandomStateful {
    public let p: Float
    public var generator: RandomGenerator

    public init(_ p: Float = 0.5, seed: UInt64? = nil) {
        precondition(p >= 0 && p <= 1, "Dropout probability must be in [0, 1], got \(p)")
        self.p = p
        let g = ParameterInitContext.current.nextGenerator()
        // Without an explicit seed, derive one from the init context's (seed, stream) pair.
        generator = RandomGenerator(seed: seed ?? (g.seed &* 0x9E37_79B9_7F4A_7C15 &+ g.stream))
        super.init()
    }

    override public func forward(_ x: Tensor) -> Tensor {
        guard isTraining, p > 0 else { return x }
        if p == 1 { return x * Tensor.zeros(x.shape) }
        let keep = generator.uniform(x.shape) .>= p
        return x * (keep / (1 - p))
    }
}
