import Foundation
import DiffusionEngine
import DiffusionLayers

/// The settings of a consistency run on a toy data set (a ToyMLP with the consistency parametrisation).
public struct ConsistencySettings: Sendable, Hashable {
    public var steps = 1000
    public var batchSize = 256
    public var learningRate = 2e-3
    public var warmupSteps = 50
    public var gradClip = 1.0
    public var levels = ConsistencyLevels()
    public var curriculum = ConsistencyCurriculum.fixed(18)
    public var sampling = ConsistencyLevelSampling.uniform
    /// μ of the target θ⁻ ← μθ⁻ + (1 − μ)θ; 0 is iCT's θ⁻ = stopgrad(θ).
    public var targetDecay = 0.0
    public var sigmaData = 0.5
    public var width = 128, blocks = 3, embeddingDim = 32
    public var inputScale: Float = 25
    public var seed: UInt64 = 0
    public init() {}

    /// iCT's choices (Song & Dhariwal 2023, arXiv 2310.14189): curriculum s₀ = 10, s₁ = 1280, lognormal levels
    /// (P_mean = −1.1, P_std = 2), no EMA target; use with `.pseudoHuber` and `.inverseGap`.
    public static func improved(steps: Int) -> ConsistencySettings {
        var s = ConsistencySettings()
        (s.steps, s.curriculum, s.sampling, s.targetDecay) = (steps, .improved(s0: 10, s1: 1280), .lognormal(mean: -1.1, std: 2), 0)
        return s
    }
}

/// Consistency distillation (a `teacher` in the objective) or consistency training (none) of a toy `ConsistencyModel`,
/// through the shared `StepwiseTrainer` loop and `applyUpdate`; the target network θ⁻ is an `EMA` of θ (decay μ)
/// or, with μ = 0, θ itself under no-grad. Step k's batch is samples k·B… of the data stream of `seed`, its noise
/// and levels come from stream k of seed + 1.
public final class ConsistencyTrainer: StepwiseTrainer {
    public let settings: ConsistencySettings
    public let data: ToyDataset
    public let objective: ConsistencyObjective
    public let model: ConsistencyModel<ToyMLP>
    public let optimizer: AdamW
    /// The target θ⁻ when μ > 0.
    public let target: EMA?
    let schedule: CosineLR
    public private(set) var step = 0

    public init(_ settings: ConsistencySettings, data: ToyDataset, objective: ConsistencyObjective) {
        precondition(settings.steps > 0 && settings.batchSize > 0 && (0..<1).contains(settings.targetDecay), "consistency settings out of range")
        (self.settings, self.data, self.objective) = (settings, data, objective)
        let net = withParameterSeed(settings.seed) {
            ToyMLP(dimension: data.dimension, width: settings.width, blocks: settings.blocks, embeddingDim: settings.embeddingDim,
                   inputScale: settings.inputScale)
        }
        model = ConsistencyModel(net, preconditioning: ConsistencyPreconditioning(σ_data: settings.sigmaData, σ_min: settings.levels.sigmaMin))
        optimizer = AdamW(net.parameters(), lr: settings.learningRate)
        target = settings.targetDecay > 0 ? EMA(net, decay: settings.targetDecay) : nil
        schedule = CosineLR(peak: settings.learningRate, totalSteps: settings.steps, warmupSteps: Swift.min(settings.warmupSteps, settings.steps / 2))
    }

    public var totalSteps: Int { settings.steps }

    /// N at the current step.
    public var currentN: Int { settings.curriculum.N(step: step, of: settings.steps) }

    @discardableResult
    public func trainStep() -> Double {
        let B = settings.batchSize
        let x0 = data.sample(B, seed: settings.seed, offset: step * B).points
        var rng = RandomGenerator(seed: settings.seed &+ 1, stream: UInt64(step) << 24)
        let z = rng.normal(x0.shape)
        let levels = settings.levels.levels(currentN)
        let indices = settings.sampling.indices(levels, uniforms: rng.uniform([B]).scalars)
        let f = model
        let loss = objective.loss(f, target: { x, σ in
            if let target { return target.withAveragedParameters { f.consistency(x, sigmas: σ) } }
            return f.consistency(x, sigmas: σ)
        }, x0: x0, noise: z, indices: indices, levels: levels).mean()
        applyUpdate(loss, optimizer: optimizer, learningRate: schedule.lr(at: step), gradClip: settings.gradClip, ema: target)
        step += 1
        return Double(loss.item)
    }

    public func save(to url: URL) throws {
        try TrainingState.save(to: url, model: model.network, optimizer: optimizer, ema: target, step: step,
                               config: "{\"kind\": \"consistency\", \"data\": \"\(data.name)\"}")
    }
}
