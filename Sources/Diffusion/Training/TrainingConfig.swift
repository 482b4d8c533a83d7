import Foundation
import DiffusionEngine

/// A toy training run, as stored in a JSON config file and in checkpoints. Every field has a default; names are
/// checked (an unknown data set, objective, process or prediction, a value out of range, or an incompatible
/// combination is a `ConfigError` naming the problem).
public struct TrainingConfig: Codable, Sendable, Equatable {
    /// A `ToyDataset` name.
    public var data = "moons"
    /// ddpm (ε-MSE) | x0 | v | vlb (variational bound) | edm | flow | flow-ot | dsm (NCSN).
    public var objective = "ddpm"
    /// Noise process; nil picks the objective's own (ddpm, x0, v, vlb: vp-linear; edm: edm; flow: flow; dsm: ve).
    public var process: String?
    /// What the network predicts (epsilon, sample, v, score, velocity); nil picks the objective's natural one.
    public var prediction: String?
    /// Rescale a VP process to zero terminal SNR (Lin et al. 2023, arXiv 2305.08891).
    public var zeroTerminalSNR = false
    /// Min-SNR-γ weighting (Hang et al. 2023, arXiv 2303.09556) for ddpm, x0 and v.
    public var minSNRGamma: Double?
    public var steps = 2000
    public var batchSize = 256
    public var learningRate = 6e-3
    /// Linear warm-up steps (capped at half the run).
    public var warmupSteps = 50
    /// "cosine" (decay to 0 at `steps`) or "constant" (after warm-up).
    public var lrSchedule = "cosine"
    public var weightDecay = 0.0
    /// Global gradient-norm clip; 0 disables.
    public var gradClip = 1.0
    /// EMA decay of the weights used for sampling; 0 disables.
    public var emaDecay = 0.99
    /// ToyMLP size.
    public var width = 128
    public var blocks = 3
    public var embeddingDim = 64
    public var inputScale = 25.0
    /// Train a class-conditional model (labelled data sets only), dropping labels with `labelDropout` for CFG.
    public var conditional = false
    public var labelDropout = 0.1
    public var seed: UInt64 = 0

    public init() {}

    public static let objectives = ["ddpm", "x0", "v", "vlb", "edm", "flow", "flow-ot", "dsm"]
    public static let processes = ["vp-linear", "vp-cosine", "cosine", "sigmoid", "ve", "edm", "flow"]

    /// The JSON keys a config file may use.
    public static let keys: Set<String> = ["data", "objective", "process", "prediction", "zeroTerminalSNR", "minSNRGamma", "steps",
                                           "batchSize", "learningRate", "warmupSteps", "lrSchedule", "weightDecay", "gradClip", "emaDecay",
                                           "width", "blocks", "embeddingDim", "inputScale", "conditional", "labelDropout", "seed"]

    /// Decodes a JSON object, rejecting unknown keys (a misspelt key would otherwise be silently ignored).
    public static func decode(json data: Data, source: String) throws(ConfigError) -> TrainingConfig {
        guard let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw ConfigError("\(source): not a JSON object")
        }
        if let unknown = object.keys.sorted().first(where: { !keys.contains($0) }) {
            throw ConfigError("\(source): unknown field '\(unknown)'; known fields: \(keys.sorted().joined(separator: ", "))")
        }
        do {
            let defaults = try JSONSerialization.jsonObject(with: JSONEncoder().encode(TrainingConfig())) as! [String: Any]
            let merged = defaults.merging(object) { _, new in new }
            return try JSONDecoder().decode(TrainingConfig.self, from: JSONSerialization.data(withJSONObject: merged))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw ConfigError("\(source): field '\(context.codingPath.map(\.stringValue).joined(separator: "."))' has the wrong type (\(context.debugDescription))")
        } catch {
            throw ConfigError("\(source): \(error)")
        }
    }

    /// Sorted-key JSON.
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    // MARK: Resolved choices

    public var resolvedProcessName: String {
        process ?? ["edm": "edm", "flow": "flow", "flow-ot": "flow", "dsm": "ve"][objective] ?? "vp-linear"
    }

    public var resolvedPrediction: Prediction {
        if let p = prediction, let k = Self.prediction(named: p) { return k }
        return ["x0": .sample, "v": .v, "edm": .sample, "flow": .velocity, "flow-ot": .velocity][objective] ?? .epsilon
    }

    /// Accepts the enum's names and the common aliases x0 and eps.
    public static func prediction(named name: String) -> Prediction? {
        Prediction(rawValue: name) ?? ["x0": .sample, "eps": .epsilon, "flow": .velocity][name]
    }

    /// Checks every field; the first problem is thrown.
    public func validate() throws(ConfigError) {
        guard let set = ToyDataset.named(data) else {
            throw ConfigError("unknown data set '\(data)'; choose one of: \(ToyDataset.names.joined(separator: ", "))")
        }
        guard Self.objectives.contains(objective) else {
            throw ConfigError("unknown objective '\(objective)'; choose one of: \(Self.objectives.joined(separator: ", "))")
        }
        guard Self.processes.contains(resolvedProcessName) else {
            throw ConfigError("unknown process '\(resolvedProcessName)'; choose one of: \(Self.processes.joined(separator: ", "))")
        }
        if let p = prediction, Self.prediction(named: p) == nil {
            throw ConfigError("unknown prediction '\(p)'; choose one of: \(Prediction.allCases.map(\.rawValue).joined(separator: ", ")) (or x0, eps)")
        }
        func range<T: Comparable>(_ name: String, _ v: T, _ r: ClosedRange<T>) throws(ConfigError) {
            guard r.contains(v) else { throw ConfigError("\(name) must be in \(r.lowerBound)…\(r.upperBound), got \(v)") }
        }
        try range("steps", steps, 1...10_000_000)
        try range("batchSize", batchSize, 2...65_536)
        try range("learningRate", learningRate, 1e-8...1)
        try range("warmupSteps", warmupSteps, 0...10_000_000)
        try range("weightDecay", weightDecay, 0...1)
        try range("gradClip", gradClip, 0...1e6)
        try range("emaDecay", emaDecay, 0...0.999999)
        try range("width", width, 1...4096)
        try range("blocks", blocks, 0...64)
        try range("embeddingDim", embeddingDim, 2...1024)
        try range("inputScale", inputScale, 1e-3...1e4)
        try range("labelDropout", labelDropout, 0...1)
        if embeddingDim % 2 != 0 { throw ConfigError("embeddingDim must be even, got \(embeddingDim)") }
        if let γ = minSNRGamma {
            try range("minSNRGamma", γ, 1e-6...1e6)
            if !["ddpm", "x0", "v"].contains(objective) { throw ConfigError("minSNRGamma applies to the ddpm, x0 and v objectives, not '\(objective)'") }
        }
        guard ["cosine", "constant"].contains(lrSchedule) else { throw ConfigError("unknown lrSchedule '\(lrSchedule)'; choose cosine or constant") }
        if conditional && set.classCount == 0 { throw ConfigError("data set '\(data)' has no labels, so it cannot train a conditional model") }
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

    // MARK: Building

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

    public var dataset: ToyDataset { ToyDataset.named(data)! }

    /// The warm-up actually used: at most half the steps.
    public var effectiveWarmupSteps: Int { Swift.min(warmupSteps, steps / 2) }

    /// A freshly initialised model (parameters from `seed`).
    public func makeModel() throws(ConfigError) -> NetworkModel<ToyMLP> {
        try validate()
        let set = dataset
        let net = withParameterSeed(seed) {
            ToyMLP(dimension: set.dimension, width: width, blocks: blocks, embeddingDim: embeddingDim, inputScale: Float(inputScale),
                   classes: conditional ? set.classCount : 0)
        }
        do {
            return try NetworkModel(net, process: noiseProcess, output: resolvedPrediction,
                                    preconditioning: objective == "edm" ? EDMPreconditioning(σ_data: 0.5) : nil)
        } catch { throw ConfigError(error.description) }
    }

    /// The EDM levels [σ_min, σ_max] the model was trained on, for default sampling schedules.
    public var samplingRange: (min: Double, max: Double) {
        let p = noiseProcess
        let lo = p.discreteSteps != nil ? p.edmSigma(1 / Double(p.discreteSteps!)) : p.edmSigma(1e-3)
        let hi = p.edmSigma(1)
        return (Swift.max(0.002, lo), Swift.min(80, hi.isFinite ? hi : 80))
    }
}

/// A problem with a training or sampling configuration, with a message that names it.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
