import Synchronization

/// Where new parameters draw their initial values.
///
/// Every parameter draw claims the next stream of a seeded counter-based `RandomGenerator`, so a model built
/// inside `withParameterSeed(s) { … }` gets the same values on every machine and thread count. The context is
/// task-local: concurrent tasks building models with different seeds do not interfere. Outside any seeded
/// scope a process-wide context with seed 0 is used (deterministic only for single-threaded construction).
///
/// Defaults follow PyTorch: Linear and Conv weights and biases use kaiming-uniform with a = √5, which is
/// U(−1/√fan_in, 1/√fan_in); normalisation weights are 1 and biases 0; Embedding is N(0, 1).
public final class ParameterInitContext: Sendable {
    private let generator: Mutex<RandomGenerator>

    public init(seed: UInt64) { generator = Mutex(RandomGenerator(seed: seed)) }

    /// A generator positioned at a fresh stream (one per parameter).
    public func nextGenerator() -> RandomGenerator {
        generator.withLock { g in RandomGenerator(seed: g.seed, stream: g.nextStream()) }
    }

    @TaskLocal public static var current = ParameterInitContext(seed: 0)
}

/// Builds modules whose parameters are drawn from a generator seeded with `seed`.
@discardableResult
public func withParameterSeed<R>(_ seed: UInt64, _ body: () throws -> R) rethrows -> R {
    try ParameterInitContext.$current.withValue(ParameterInitContext(seed: seed), operation: body)
}

/// Async variant of `withParameterSeed(_:_:)`.
@discardableResult
public func withParameterSeed<R>(_ seed: UInt64, _ body: () async throws -> R) async rethrows -> R {
    try await ParameterInitContext.$current.withValue(ParameterInitContext(seed: seed), operation: body)
}

/// Initial value rules for parameters.
public enum Initializer: Sendable {
    case zeros
    case ones
    case constant(Float)
    /// U(−bound, bound).
    case uniform(bound: Float)
    /// N(mean, std²).
    case normal(mean: Float = 0, std: Float = 1)
    /// PyTorch's default for Linear/Conv weights and biases: U(±1/√fanIn) (kaiming-uniform with a = √5).
    case kaimingUniformDefault(fanIn: Int)

    /// A tensor of `shape` following this rule; random rules claim a stream from the current context.
    public func make(_ shape: [Int]) -> Tensor {
        switch self {
        case .zeros: return .zeros(shape)
        case .ones: return .ones(shape)
        case .constant(let c): return .full(shape, c)
        case .uniform(let b):
            var g = ParameterInitContext.current.nextGenerator()
            return g.uniform(shape, lo: -b, hi: b)
        case .normal(let mean, let std):
            var g = ParameterInitContext.current.nextGenerator()
            return g.normal(shape, mean: mean, std: std)
        case .kaimingUniformDefault(let fanIn):
            let b: Float = fanIn > 0 ? 1 / Float(fanIn).squareRoot() : 0
            return Initializer.uniform(bound: b).make(shape)
        }
    }
}

extension Parameter {
    /// A parameter of `shape` initialised by `rule`.
    public convenience init(_ shape: [Int], _ rule: Initializer, frozen: Bool = false) {
        self.init(rule.make(shape), frozen: frozen)
    }
}
