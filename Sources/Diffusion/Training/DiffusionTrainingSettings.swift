import Foundation
import DiffusionEngine
import DiffusionLayers

/// The fields of a training config that do not depend on the data or the network: the diffusion objective
/// (objective, process, prediction) and the optimisation (AdamW with warm-up, clipping, EMA, label dropout, seed).
/// Toy (`TrainingConfig`) and image training configs share them, with one set of names, defaults, checks and
/// builders (process, loss, learning-rate schedule, sampling range). Settable, so flags can override a config file.
public protocol DiffusionTrainingSettings {
    /// ddpm (ε-MSE) | x0 | v | vlb (variational bound) | edm | flow | flow-ot | dsm (NCSN).
    var objective: String { get set }
    /// Noise process; nil picks the objective's own (ddpm, x0, v, vlb: vp-linear; edm: edm; flow: flow; dsm: ve).
    var process: String? { get set }
    /// What the network predicts (epsilon, sample, v, score, velocity); nil picks the objective's natural one.
    var prediction: String? { get set }
    /// Rescale a VP process to zero terminal SNR (Lin et al. 2023, arXiv 2305.08891).
    var zeroTerminalSNR: Bool { get set }
    /// Min-SNR-γ weighting (Hang et al. 2023, arXiv 2303.09556) for ddpm, x0 and v.
    var minSNRGamma: Double? { get set }
    var steps: Int { get set }
    var batchSize: Int { get set }
    var learningRate: Double { get set }
    /// Linear warm-up steps (capped at half the run).
    var warmupSteps: Int { get set }
    /// "cosine" (decay to 0 at `steps`) or "constant" (after warm-up).
    var lrSchedule: String { get set }
    var weightDecay: Double { get set }
    /// Global gradient-norm clip; 0 disables.
    var gradClip: Double { get set }
    /// EMA decay of the weights used for sampling; 0 disables.
    var emaDecay: Double { get set }
    /// Train a class-conditional model, dropping labels with `labelDropout` for classifier-free guidance.
    var conditional: Bool { get set }
    var labelDropout: Double { get set }
    var seed: UInt64 { get set }
}

extension DiffusionTrainingSettings {
    public static var objectives: [String] { ["ddpm", "x0", "v", "vlb", "edm", "flow", "flow-ot", "dsm"] }
    public static var processes: [String] { ["vp-linear", "vp-cosine", "cosine", "sigmoid", "ve", "edm", "flow"] }

    /// Accepts the enum's names and the common aliases x0 and eps.
    public static func prediction(named name: String) -> Prediction? {
        Prediction(rawValue: name) ?? ["x0": .sample, "eps": .epsilon, "flow": .velocity][name]
    }

    public var resolvedProcessName: String {
        process ?? ["edm": "edm", "flow": "flow", "flow-ot": "flow", "dsm": "ve"][objective] ?? "vp-linear"
    }

    public var resolvedPrediction: Prediction {
        if let p = prediction, let k = Self.prediction(named: p) { return k }
        return ["x0": .sample, "v": .v, "edm": .sample, "flow": .velocity, "flow-ot": .velocity][objective] ?? .epsilon
    }

    /// Checks the objective's names, the optimisation ranges and the objective/process/prediction combination;
    /// the first problem is thrown. `beforeCombinations` runs between the range checks and the combination checks
    /// (the data- and model-specific checks of the conforming config).
    public func validateDiffusionSettings(beforeCombinations: () throws(ConfigError) -> Void = {}) throws(ConfigError) {
        guard Self.objectives.contains(objective) else {
            throw ConfigError("unknown objective '\(objective)'; choose one of: \(Self.objectives.joined(separator: ", "))")
        }
        guard Self.processes.contains(resolvedProcessName) else {
            throw ConfigError("unknown process '\(resolvedProcessName)'; choose one of: \(Self.processes.joined(separator: ", "))")
        }
        if let p = prediction, Self.prediction(named: p) == nil {
            throw ConfigError("unknown prediction '\(p)'; choose one of: \(Prediction.allCases.map(\.rawValue).joined(separator: ", ")) (or x0, eps)")
        }
        try checkRange("steps", steps, 1...10_000_000)
        try checkRange("batchSize", batchSize, 2...65_536)
        try checkRange("learningRate", learningRate, 1e-8...1)
        try checkRange("warmupSteps", warmupSteps, 0...10_000_000)
        try checkRange("weightDecay", weightDecay, 0...1)
        try checkRange("gradClip", gradClip, 0...1e6)
        try checkRange("emaDecay", emaDecay, 0...0.999999)
        try checkRange("labelDropout", labelDropout, 0...1)
        if let γ = minSNRGamma {
            try checkRange("minSNRGamma", γ, 1e-6...1e6)
            if !["ddpm", "x0", "v"].contains(objective) { throw ConfigError("minSNRGamma applies to the ddpm, x0 and v objectives, not '\(objective)'") }
        }
        guard ["cosine", "constant"].contains(lrSchedule) else { throw ConfigError("unknown lrSchedule '\(lrSchedule)'; choose cosine or constant") }
        try beforeCombinations()
        let p = resolvedProcessName, k = resolvedPrediction
        switch objective {
        case "edm":
            if p != "edm" { throw ConfigError("the edm objective uses the edm process, not '\(p)'") }
            if k != .sample { throw ConfigError("the edm objective trains a preconditioned x₀ model (prediction sample), not \(k.rawValue)") }
        case "flow", "flow-ot":
            if p != "flow" { throw ConfigError("flow matching uses the flow process, not '\(p)'") }
        case "vlb":
            if !["vp-linear", "vp-cosine"].contains(p) { throw ConfigError("the variational bound needs a discrete VP process (vp-linear or vp-cosine), not '\(p)'") }
        case "dsm":
            if p != "ve" { throw ConfigError("denoising score matching (NCSN) uses the ve process, not '\(p)'") }
        default:
            break
        }
        if p == "edm" && objective != "edm" { throw ConfigError("the edm process is trained with the edm objective") }
        if zeroTerminalSNR && !["vp-linear", "vp-cosine", "cosine", "sigmoid"].contains(p) {
            throw ConfigError("zeroTerminalSNR rescales a variance-preserving process; '\(p)' is not one")
        }
        if k.dividesByAlpha && (zeroTerminalSNR || p == "flow") {
            throw ConfigError(DiffusionError.predictionUndefinedAtZeroTerminalSNR(prediction: k.rawValue, process: p + (zeroTerminalSNR ? "-ztsnr" : "")).description)
        }
    }

    public var noiseProcess: any NoiseProcess {
        let base: any NoiseProcess = switch resolvedProcessName {
        case "vp-cosine": DiscreteVP.cosine()
        case "cosine": CosineProcess()
        case "sigmoid": SigmoidProcess()
        case "ve": VEProcess(sigmaMin: 0.01, sigmaMax: 10)
        case "edm": EDMProcess()
        case "flow": RectifiedFlow()
        default: DiscreteVP.linear()
        }
        guard zeroTerminalSNR else { return base }
        if let d = base as? DiscreteVP { return d.rescaledToZeroTerminalSNR() }
        if let c = base as? CosineProcess { return ZeroTerminalSNR(c) }
        if let s = base as? SigmoidProcess { return ZeroTerminalSNR(s) }
        return base
    }

    public var lossObjective: any Objective {
        let weighting: LossWeighting = minSNRGamma.map { .minSNR(gamma: $0) } ?? .uniform
        return switch objective {
        case "x0": DenoisingLoss(process: noiseProcess, space: .sample, weighting: weighting)
        case "v": DenoisingLoss(process: noiseProcess, space: .v, weighting: weighting)
        case "vlb": VariationalBound(process: noiseProcess as! DiscreteVP)
        case "edm": EDMLoss()
        case "flow": FlowMatching(coupling: .independent)
        case "flow-ot": FlowMatching(coupling: .minibatchOT)
        case "dsm": DenoisingScoreMatching(sigmaMax: 10, sigmaMin: 0.01, levels: 100)
        default: DenoisingLoss(process: noiseProcess, space: .epsilon, weighting: weighting)
        }
    }

    /// EDM preconditioning for the edm objective (σ_data as given), nil otherwise.
    public func preconditioning(sigmaData: Double) -> EDMPreconditioning? {
        objective == "edm" ? EDMPreconditioning(σ_data: sigmaData) : nil
    }

    /// The warm-up actually used: at most half the steps.
    public var effectiveWarmupSteps: Int { Swift.min(warmupSteps, steps / 2) }

    /// Linear warm-up, then cosine decay to 0 at `steps` or a constant rate.
    public var learningRateSchedule: any LRSchedule {
        lrSchedule == "constant" ? LinearWarmupLR(peak: learningRate, warmupSteps: effectiveWarmupSteps)
            : CosineLR(peak: learningRate, totalSteps: steps, warmupSteps: effectiveWarmupSteps)
    }

    /// The EDM levels [σ_min, σ_max] the model was trained on, for default sampling schedules.
    public var samplingRange: (min: Double, max: Double) {
        let p = noiseProcess
        let lo = p.discreteSteps != nil ? p.edmSigma(1 / Double(p.discreteSteps!)) : p.edmSigma(1e-3)
        let hi = p.edmSigma(1)
        return (Swift.max(0.002, lo), Swift.min(80, hi.isFinite ? hi : 80))
    }
}

/// Throws "name must be in lo…hi, got v" unless `range` holds `value`.
public func checkRange<T: Comparable>(_ name: String, _ value: T, _ range: ClosedRange<T>) throws(ConfigError) {
    guard range.contains(value) else { throw ConfigError("\(name) must be in \(range.lowerBound)…\(range.upperBound), got \(value)") }
}

/// Decodes a JSON object over the defaults of `T()`, rejecting keys outside `keys` (a misspelt key would otherwise
/// be silently ignored) and naming a field of the wrong type.
public func decodeStrictConfig<T: Codable>(_ type: T.Type, defaults: T, keys: Set<String>, json data: Data, source: String) throws(ConfigError) -> T {
    guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw ConfigError("\(source): not a JSON object")
    }
    if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
        throw ConfigError("\(source): unknown field '\(unknown)'; known fields: \(keys.sorted().joined(separator: ", "))")
    }
    do {
        let base = try JSONSerialization.jsonObject(with: JSONEncoder().encode(defaults)) as! [String: Any]
        let merged = base.merging(object) { _, new in new }
        return try JSONDecoder().decode(T.self, from: JSONSerialization.data(withJSONObject: merged))
    } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
        throw ConfigError("\(source): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type (\(context.debugDescription))")
    } catch {
        throw ConfigError("\(source): \(error)")
    }
}
