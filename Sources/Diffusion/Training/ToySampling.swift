import Foundation
import DiffusionEngine

/// How to draw samples from a trained model (the options of `diffusion sample` and `diffusion eval`): toy models
/// here, image models through `ImageSampler` in DiffusionModels.
public struct SamplingOptions: Sendable, Equatable {
    /// A name from `samplers`.
    public var sampler = "heun"
    public var steps = 25
    /// karras | exponential | uniform (uniform in process time) | trailing (discrete processes only).
    public var schedule = "karras"
    public var count = 2000
    public var seed: UInt64 = 0
    /// A class for every sample (conditional models); nil draws classes as in the data.
    public var label: Int?
    /// Classifier-free guidance scale w (1: plain conditional) and rescale φ.
    public var guidanceScale = 1.0
    public var guidanceRescale = 0.0

    public init() {}
    public static let schedules = ["karras", "exponential", "uniform", "trailing"]

    /// The σ list for a model trained with `config`.
    public func sigmas(for config: some DiffusionTrainingSettings) throws(ConfigError) -> [Double] {
        guard (1...10_000).contains(steps) else { throw ConfigError("steps must be in 1…10000, got \(steps)") }
        let (lo, hi) = config.samplingRange, process = config.noiseProcess
        switch schedule {
        case "karras": return Schedule.karras(steps: steps, sigmaMin: lo, sigmaMax: hi)
        case "exponential": return Schedule.exponential(steps: steps, sigmaMin: lo, sigmaMax: hi)
        case "uniform":
            let tMax = process.edmSigma(1).isFinite && process.edmSigma(1) <= 80 ? 1 : process.t(edmSigma: hi)
            let tMin = process.discreteSteps.map { 1 / Double($0) } ?? 1e-3
            return Schedule.uniformTime(steps: steps, process: process, tMin: tMin, tMax: tMax)
        case "trailing":
            guard let T = process.discreteSteps else { throw ConfigError("the trailing schedule needs a discrete process; '\(config.resolvedProcessName)' is continuous") }
            guard steps <= T else { throw ConfigError("trailing spacing allows at most T = \(T) steps, got \(steps)") }
            let σ = Schedule.discrete(steps: steps, process: process, spacing: .trailing)
            // σ_T is a level the model was trained at: keep it, so exactly `steps` steps run. Only zero terminal
            // SNR (σ_T = ∞) starts lower, at the top of the sampling range.
            return σ[0].isFinite ? σ : [hi] + σ.dropFirst().filter { $0 < hi }
        default:
            throw ConfigError("unknown schedule '\(schedule)'; choose one of: \(Self.schedules.joined(separator: ", "))")
        }
    }

    /// Checks the names and ranges against a model trained with `config`.
    public func validate(for config: TrainingConfig) throws(ConfigError) {
        try validate(for: config, conditional: config.conditional, classCount: config.dataset.classCount, data: config.data)
    }

    /// Checks the names and ranges against a model trained with `config` on `data`, conditioned on `classCount`
    /// classes when `conditional`.
    public func validate(for config: some DiffusionTrainingSettings, conditional: Bool, classCount: Int, data: String) throws(ConfigError) {
        guard Sampler.named(sampler) != nil else {
            throw ConfigError("unknown sampler '\(sampler)'; choose one of: \(samplers.map(\.name).joined(separator: ", "))")
        }
        guard (1...1_000_000).contains(count) else { throw ConfigError("count must be in 1…1000000, got \(count)") }
        _ = try sigmas(for: config)
        if guidanceScale != 1 || guidanceRescale != 0 || label != nil {
            guard conditional else { throw ConfigError("the model was trained unconditionally: labels and guidance need a conditional model (conditional: true)") }
        }
        if let label, !(0..<classCount).contains(label) {
            throw ConfigError("label must be in 0…\(classCount - 1) for '\(data)', got \(label)")
        }
        guard guidanceScale.isFinite && (0...100).contains(guidanceScale) else { throw ConfigError("guidance scale must be in 0…100, got \(guidanceScale)") }
        guard (0...1).contains(guidanceRescale) else { throw ConfigError("guidance rescale φ must be in 0…1, got \(guidanceRescale)") }
    }

    /// Samples (and their labels for conditional models).
    public func sample(_ model: NetworkModel<ToyMLP>, config: TrainingConfig) throws(ConfigError) -> (points: Tensor, labels: Tensor?) {
        try validate(for: config)
        let σ = try sigmas(for: config)
        let noise = NoiseSource(seed: seed)
        let x = noise.prior([count, config.dataset.dimension], sigma: σ[0])
        let s = Sampler.named(sampler)!
        return withNoGrad {
            guard config.conditional else { return (s(model, x, sigmas: σ, noise: noise), nil) }
            let labels = label.map { Tensor.full([count], Float($0)) } ?? config.dataset.sample(count, seed: seed &+ 0x1abe1).labels!
            let guided = ClassifierFreeGuidance(model, labels: labels, scale: guidanceScale, rescale: guidanceRescale)
            return (s(guided, x, sigmas: σ, noise: noise), labels)
        }
    }
}
