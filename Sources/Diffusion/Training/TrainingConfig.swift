import Foundation
import DiffusionEngine

/// A toy training run, as stored in a JSON config file and in checkpoints. Every field has a default; names are
/// checked (an unknown data set, objective, process or prediction, a value out of range, or an incompatible
/// combination is a `ConfigError` naming the problem).
public struct TrainingConfig: DiffusionTrainingSettings, Codable, Sendable, Equatable {
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

    /// The JSON keys a config file may use.
    public static let keys: Set<String> = ["data", "objective", "process", "prediction", "zeroTerminalSNR", "minSNRGamma", "steps",
                                           "batchSize", "learningRate", "warmupSteps", "lrSchedule", "weightDecay", "gradClip", "emaDecay",
                                           "width", "blocks", "embeddingDim", "inputScale", "conditional", "labelDropout", "seed"]

    /// Decodes a JSON object, rejecting unknown keys (a misspelt key would otherwise be silently ignored).
    public static func decode(json data: Data, source: String) throws(ConfigError) -> TrainingConfig {
        try decodeStrictConfig(TrainingConfig.self, defaults: TrainingConfig(), keys: keys, json: data, source: source)
    }

    /// Sorted-key JSON.
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    /// Checks every field; the first problem is thrown.
    public func validate() throws(ConfigError) {
        guard let set = ToyDataset.named(data) else {
            throw ConfigError("unknown data set '\(data)'; choose one of: \(ToyDataset.names.joined(separator: ", "))")
        }
        try validateDiffusionSettings { () throws(ConfigError) in
            try checkRange("width", width, 1...4096)
            try checkRange("blocks", blocks, 0...64)
            try checkRange("embeddingDim", embeddingDim, 2...1024)
            try checkRange("inputScale", inputScale, 1e-3...1e4)
            if embeddingDim % 2 != 0 { throw ConfigError("embeddingDim must be even, got \(embeddingDim)") }
            if conditional && set.classCount == 0 { throw ConfigError("data set '\(data)' has no labels, so it cannot train a conditional model") }
        }
    }

    // MARK: Building

    public var dataset: ToyDataset { ToyDataset.named(data)! }

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
                                    preconditioning: preconditioning(sigmaData: 0.5))
        } catch { throw ConfigError(error.description) }
    }
}

/// A problem with a training or sampling configuration, with a message that names it.
public struct ConfigError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}
