import Foundation
import DiffusionEngine
import DiffusionLayers

/// Trains a `ToyMLP` on a toy data set from a `TrainingConfig`: AdamW, linear warm-up then cosine or constant
/// learning rate, gradient clipping, an EMA of the weights, fresh data every step. The CLI's `diffusion train`
/// and the end-to-end tests both run this loop.
///
/// Step k is reproducible on its own: its batch is samples k·B… of the data stream of `seed`, and its noise comes
/// from a generator at stream k of seed + 1, so a resumed run continues bit-identically.
public final class ToyTrainer: StepwiseTrainer {
    public let config: TrainingConfig
    public let model: NetworkModel<ToyMLP>
    public let optimizer: AdamW
    public let ema: EMA?
    public let objective: any Objective
    let schedule: any LRSchedule
    /// Steps completed.
    public private(set) var step = 0

    public init(_ config: TrainingConfig) throws(ConfigError) {
        self.config = config
        model = try config.makeModel()
        optimizer = AdamW(model.network.parameters(), lr: config.learningRate, weightDecay: config.weightDecay)
        ema = config.emaDecay > 0 ? EMA(model.network, decay: config.emaDecay) : nil
        objective = config.lossObjective
        schedule = config.learningRateSchedule
    }

    /// One optimisation step; returns the batch loss.
    @discardableResult
    public func trainStep() -> Double {
        let B = config.batchSize
        let (x0, labels) = config.dataset.sample(B, seed: config.seed, offset: step * B)
        var rng = RandomGenerator(seed: config.seed &+ 1, stream: UInt64(step) << 24)
        var y: Tensor? = nil
        if config.conditional, let labels {
            y = dropLabels(labels, probability: config.labelDropout, classCount: config.dataset.classCount, generator: &rng)
        }
        let loss = objective(model, x0, labels: y, rng: &rng).mean()
        applyUpdate(loss, optimizer: optimizer, learningRate: schedule.lr(at: step), gradClip: config.gradClip, ema: ema)
        step += 1
        return Double(loss.item)
    }

    public var totalSteps: Int { config.steps }

    /// The model with EMA weights (when an EMA is kept) for sampling: a fresh copy, the trainer is untouched.
    public func samplingModel() -> NetworkModel<ToyMLP> {
        let copy = try! config.makeModel()
        for ((_, p), (_, q)) in zip(copy.network.namedParameters(), model.network.namedParameters()) { p.copy(from: q.value) }
        ema?.copy(to: copy.network)
        copy.network.eval()
        return copy
    }

    /// Saves a resumable checkpoint (model, optimizer, EMA, config in the metadata) atomically.
    public func save(to url: URL) throws {
        try TrainingState.save(to: url, model: model.network, optimizer: optimizer, ema: ema, step: step, config: config.json)
    }

    /// Continues from a checkpoint saved by `save` with the same config.
    public func resume(from url: URL) throws {
        let state = try TrainingState.load(from: url, model: model.network, optimizer: optimizer, ema: ema)
        step = state.step
    }
}

/// A trained toy model read back from a checkpoint.
public struct ToyCheckpoint {
    public let config: TrainingConfig
    /// The EMA weights when the file has them, else the raw weights; in eval mode.
    public let model: NetworkModel<ToyMLP>
    public let step: Int

    /// Reads a checkpoint written by `ToyTrainer.save`; every problem is a `ConfigError` naming the file.
    public static func load(_ url: URL) throws(ConfigError) -> ToyCheckpoint {
        let file: SafeTensorsFile
        do { file = try SafeTensors.read(url) } catch { throw ConfigError("cannot read checkpoint: \(error)") }
        guard let json = file.metadata["config"] else { throw ConfigError("\(url.path): not a DiffusionLab toy checkpoint (no config in its metadata)") }
        let config = try TrainingConfig.decode(json: Data(json.utf8), source: "\(url.path) (config)")
        let model = try config.makeModel()
        let prefix = file.tensors.keys.contains { $0.hasPrefix("ema.") } ? "ema." : "model."
        var tensors: [String: Tensor] = [:]
        for (name, t) in file.tensors where name.hasPrefix(prefix) { tensors[String(name.dropFirst(prefix.count))] = t }
        do { try model.network.load(tensors, strict: true, source: url.path) } catch { throw ConfigError("\(error)") }
        model.network.eval()
        var step = 0
        if let record = file.metadata["diffusionlab.training"], let data = record.data(using: .utf8),
           let object = try? JSONSerialization.jsonObject(with: data) as? [String: Any], let s = object["step"] as? Int { step = s }
        return ToyCheckpoint(config: config, model: model, step: step)
    }
}
