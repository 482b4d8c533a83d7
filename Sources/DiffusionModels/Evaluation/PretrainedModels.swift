import Diffusion
import DiffusionData
import Foundation

/// The committed pretrained models (folder `pretrained/`): `manifest.json` lists them in training order, each with
/// its training config (`configs/<name>.json`, seed included) and, for diffusion models, how its samples are
/// evaluated and the quality they must reach. `make pretrained` (`diffusion pretrained`) trains every entry,
/// writes `<name>.safetensors` (EMA weights only) and `<name>.json` (a `PretrainedRecord`: time and metrics);
/// the tests load each checkpoint and re-run its evaluation.
public struct PretrainedManifest: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var name: String
        /// Path of the training config, relative to the folder.
        public var config: String
        public var evaluation: EvaluationSettings?
    }

    /// How a diffusion model's samples are measured, and the bounds they must meet.
    public struct EvaluationSettings: Codable, Sendable, Equatable {
        /// Name of the classifier entry whose features and predictions are used.
        public var classifier: String
        public var sampler: String
        public var steps: Int
        public var count: Int
        public var repeats: Int
        public var seed: UInt64
        public var guidanceScale: Double
        /// FD / floor must not exceed this.
        public var maxRatio: Double?
        /// Classifier accuracy of conditional samples must reach this.
        public var minAccuracy: Double?

        public var samplingOptions: SamplingOptions {
            var o = SamplingOptions()
            (o.sampler, o.steps, o.count, o.seed, o.guidanceScale) = (sampler, steps, count, seed, guidanceScale)
            return o
        }
    }

    public var models: [Entry]

    public static func load(folder: URL) throws(ConfigError) -> PretrainedManifest {
        let url = folder.appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ConfigError("cannot read \(url.path)") }
        do { return try JSONDecoder().decode(PretrainedManifest.self, from: data) } catch { throw ConfigError("\(url.path): \(error)") }
    }

    public func entry(_ name: String) -> Entry? { models.first { $0.name == name } }

    /// The training config of an entry.
    public func config(of entry: Entry, folder: URL) throws(ConfigError) -> ImageTrainingConfig {
        let url = folder.appendingPathComponent(entry.config)
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ConfigError("cannot read \(url.path)") }
        return try ImageTrainingConfig.decode(json: data, source: url.path)
    }
}

/// Measured quality of a diffusion model's samples.
public struct SampleQuality: Codable, Sendable, Equatable {
    public var frechetDistance: Double
    public var floor: Double
    public var ratio: Double
    /// Classifier accuracy of class-conditional samples.
    public var accuracy: Double?
    public var samplingSeconds: Double
}

/// What `make pretrained` records beside a checkpoint (`<name>.json`).
public struct PretrainedRecord: Codable, Sendable {
    public var name: String
    public var config: ImageTrainingConfig
    public var parameters: Int
    public var steps: Int
    public var threads: Int
    public var trainingWallSeconds: Double
    public var trainingCPUSeconds: Double
    /// One-minute load average when training started (other work shares the CPU).
    public var loadAverageAtStart: Double?
    public var finalLoss: Double
    /// Classifiers: accuracy on the held-out images.
    public var testAccuracy: Double?
    public var evaluation: PretrainedManifest.EvaluationSettings?
    public var quality: SampleQuality?
    public var checkpointBytes: Int

    public init(name: String, config: ImageTrainingConfig, parameters: Int, steps: Int, threads: Int, trainingWallSeconds: Double,
                trainingCPUSeconds: Double, loadAverageAtStart: Double?, finalLoss: Double, testAccuracy: Double?,
                evaluation: PretrainedManifest.EvaluationSettings? = nil, quality: SampleQuality? = nil, checkpointBytes: Int = 0) {
        (self.name, self.config, self.parameters, self.steps, self.threads) = (name, config, parameters, steps, threads)
        (self.trainingWallSeconds, self.trainingCPUSeconds, self.loadAverageAtStart) = (trainingWallSeconds, trainingCPUSeconds, loadAverageAtStart)
        (self.finalLoss, self.testAccuracy, self.evaluation, self.quality, self.checkpointBytes) = (finalLoss, testAccuracy, evaluation, quality, checkpointBytes)
    }

    public static func load(_ url: URL) throws(ConfigError) -> PretrainedRecord {
        guard let data = FileManager.default.contents(atPath: url.path) else { throw ConfigError("cannot read \(url.path)") }
        do { return try JSONDecoder().decode(PretrainedRecord.self, from: data) } catch { throw ConfigError("\(url.path): \(error)") }
    }

    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self) + "\n"
    }
}

extension PretrainedManifest.EvaluationSettings {
    /// Samples the model with these settings and measures FD (with its floor) in the classifier's features, and the
    /// classifier accuracy of conditional samples (drawn for the classes in turn).
    public func measure(_ model: NetworkModel<ImageNetwork>, config: ImageTrainingConfig, shape: ImageDataShape,
                        classifier: Classifier, real: ImageDataset) throws(ConfigError) -> SampleQuality {
        let t0 = Date()
        let samples = try ImageSampler(samplingOptions).sample(model, config: config, shape: shape)
        let seconds = Date().timeIntervalSince(t0)
        let fd = ImageEvaluation.frechet(samples: samples.images, real: real.images, classifier: classifier, repeats: repeats, seed: 0xFD)
        let accuracy = samples.labels.map { ImageEvaluation.accuracy(samples: samples.images, labels: $0, classifier: classifier) }
        return SampleQuality(frechetDistance: fd.distance, floor: fd.floor, ratio: fd.ratio, accuracy: accuracy, samplingSeconds: seconds)
    }

    /// The bounds this model must meet; a message per failure.
    public func failures(_ q: SampleQuality) -> [String] {
        var out: [String] = []
        if let maxRatio, !(q.ratio <= maxRatio) { out.append(String(format: "FD %.4f is %.2f× the floor %.4f, above the bound %.2f×", q.frechetDistance, q.ratio, q.floor, maxRatio)) }
        if let minAccuracy, !((q.accuracy ?? -1) >= minAccuracy) {
            out.append(String(format: "classifier accuracy %.2f%% is below %.2f%%", 100 * (q.accuracy ?? .nan), 100 * minAccuracy))
        }
        return out
    }
}
