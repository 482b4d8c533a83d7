import Diffusion
import DiffusionData
import Foundation

/// The committed pretrained models (folder `pretrained/`): `manifest.json` lists them in training order, each with
/// its training config (`configs/<name>.json`, seed included) and, for diffusion models, two measurements of its
/// samples with the bounds they must meet: `evaluation` (the thorough one the record reports) and `check` (a cheaper
/// one the tests repeat). `make pretrained` (`diffusion pretrained`) trains every entry, writes `<name>.safetensors`
/// (EMA weights only) and `<name>.json` (a `PretrainedRecord`: time and metrics).
public struct PretrainedManifest: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var name: String
        /// Path of the training config, relative to the folder.
        public var config: String
        /// Classifiers: the held-out accuracy they must reach.
        public var minTestAccuracy: Double?
        /// The measurement the record reports.
        public var evaluation: EvaluationSettings?
        /// A cheaper measurement (fewer samples and sampler steps) that the tests repeat.
        public var check: EvaluationSettings?
    }

    /// How a diffusion model's samples are measured, and the bounds they must meet.
    public struct EvaluationSettings: Codable, Sendable, Equatable {
        /// Name of the classifier entry whose features and predictions are used.
        public var classifier: String
        public var sampler: String
        public var steps: Int
        /// σ spacing (`SamplingOptions.schedules`; nil: karras).
        public var schedule: String?
        public var count: Int
        public var repeats: Int
        public var seed: UInt64
        public var guidanceScale: Double
        /// FD / floor must not exceed this.
        public var maxRatio: Double?
        /// Classifier accuracy of conditional samples must reach this.
        public var minAccuracy: Double?
        /// Text-conditioned models (judged by an attribute classifier): the accuracy each attribute of the prompts
        /// must reach (`ShapeAttributes.names`). The prompts are `AttributeClassification.heldOutPrompts`.
        public var minAttributeAccuracy: [String: Double]?

        public var samplingOptions: SamplingOptions {
            var o = SamplingOptions()
            (o.sampler, o.steps, o.count, o.seed, o.guidanceScale) = (sampler, steps, count, seed, guidanceScale)
            if let schedule { o.schedule = schedule }
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
    /// Text-conditioned samples: per attribute, the fraction the attribute classifier reads as the prompt states,
    /// and what uniform guessing would reach.
    public var attributeAccuracy: [String: Double]?
    public var attributeChance: [String: Double]?
    public var samplingSeconds: Double

    public init(frechetDistance: Double, floor: Double, ratio: Double, accuracy: Double?, samplingSeconds: Double) {
        (self.frechetDistance, self.floor, self.ratio, self.accuracy, self.samplingSeconds) = (frechetDistance, floor, ratio, accuracy, samplingSeconds)
    }
}

/// What `make pretrained` records beside a checkpoint (`<name>.json`).
public struct PretrainedRecord: Codable, Sendable {
    public var name: String
    /// The training config (seed included).
    public var config: ImageTrainingConfig
    public var parameters: Int
    public var steps: Int
    /// `git rev-parse HEAD` of the code that trained it, "-dirty" when Sources/ or Package.swift had changes.
    public var gitCommit: String?
    /// When training finished (ISO 8601, UTC).
    public var date: String
    public var threads: Int
    public var trainingWallSeconds: Double
    public var trainingCPUSeconds: Double
    /// One-minute load average when training started and ended (other work shares the CPU).
    public var loadAverageAtStart: Double?
    public var loadAverageAtEnd: Double?
    public var finalLoss: Double
    /// Classifiers: accuracy on the held-out images (attribute classifiers: the lowest of the attributes).
    public var testAccuracy: Double?
    /// Attribute classifiers: the held-out accuracy of each attribute.
    public var testAttributeAccuracy: [String: Double]?
    public var evaluation: PretrainedManifest.EvaluationSettings?
    public var quality: SampleQuality?
    public var check: PretrainedManifest.EvaluationSettings?
    public var checkQuality: SampleQuality?
    public var checkpointBytes: Int

    public init(name: String, config: ImageTrainingConfig, parameters: Int, steps: Int, gitCommit: String?, date: String, threads: Int,
                trainingWallSeconds: Double, trainingCPUSeconds: Double, loadAverageAtStart: Double?, loadAverageAtEnd: Double?,
                finalLoss: Double, testAccuracy: Double?) {
        (self.name, self.config, self.parameters, self.steps, self.gitCommit, self.date) = (name, config, parameters, steps, gitCommit, date)
        (self.threads, self.trainingWallSeconds, self.trainingCPUSeconds) = (threads, trainingWallSeconds, trainingCPUSeconds)
        (self.loadAverageAtStart, self.loadAverageAtEnd, self.finalLoss, self.testAccuracy) = (loadAverageAtStart, loadAverageAtEnd, finalLoss, testAccuracy)
        checkpointBytes = 0
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
    /// Samples the model with these settings and measures FD (with its real-vs-real floor at the same n) in the
    /// classifier's features, and the classifier accuracy of conditional samples (drawn for the classes in turn).
    public func measure(_ model: NetworkModel<ImageNetwork>, config: ImageTrainingConfig, shape: ImageDataShape,
                        classifier: Classifier, real: ImageDataset) throws(ConfigError) -> SampleQuality {
        guard repeats >= 1, count >= 2, 2 * count <= real.count else {
            throw ConfigError("the evaluation needs repeats ≥ 1 and 2 ≤ 2 × count ≤ \(real.count) real images, got count \(count), repeats \(repeats)")
        }
        let t0 = Date()
        var sampler = ImageSampler(samplingOptions)
        if config.isTextConditional { sampler.prompts = AttributeClassification.heldOutPrompts(count: count) }
        let samples = try sampler.sample(model, config: config, shape: shape)
        let seconds = Date().timeIntervalSince(t0)
        guard samples.images.scalars.allSatisfy({ $0.isFinite }) else { throw ConfigError("sampling produced non-finite values") }
        let fd = ImageEvaluation.frechet(samples: samples.images, real: real.images, classifier: classifier, repeats: repeats, seed: 0xFD)
        var q = SampleQuality(frechetDistance: fd.distance, floor: fd.floor, ratio: fd.ratio, accuracy: nil, samplingSeconds: seconds)
        if config.isTextConditional {
            guard classifier.config.classCount == AttributeClassification.logitCount else {
                throw ConfigError("a text-conditioned model is judged by an attribute classifier (attributes: true)")
            }
            q.attributeAccuracy = AttributeClassification.accuracy(classifier, images: samples.images,
                                                                   attributes: sampler.prompts.map(ShapeAttributes.init(prompt:)))
            q.attributeChance = AttributeClassification.chance
        } else if config.conditional, let labels = samples.labels {
            q.accuracy = ImageEvaluation.accuracy(samples: samples.images, labels: labels, classifier: classifier)
        }
        return q
    }

    /// The bounds this model must meet; a message per failure.
    public func failures(_ q: SampleQuality) -> [String] {
        var out: [String] = []
        if let maxRatio, !(q.ratio <= maxRatio) {
            out.append(String(format: "FD %.4f is %.2f× the floor %.4f, above the bound %.2f×", q.frechetDistance, q.ratio, q.floor, maxRatio))
        }
        if let minAccuracy, !((q.accuracy ?? -1) >= minAccuracy) {
            out.append(String(format: "classifier accuracy %.2f%% is below %.2f%%", 100 * (q.accuracy ?? .nan), 100 * minAccuracy))
        }
        for (name, bound) in (minAttributeAccuracy ?? [:]).sorted(by: { $0.key < $1.key }) where !((q.attributeAccuracy?[name] ?? -1) >= bound) {
            out.append(String(format: "%@ accuracy %.2f%% is below %.2f%%", name, 100 * (q.attributeAccuracy?[name] ?? .nan), 100 * bound))
        }
        return out
    }
}

/// The committed pretrained models by name, for the book, the demos and the CLI:
/// `try PretrainedModels.load("unet-ddpm-digits").model`.
public enum PretrainedModels {
    /// Where the source tree this library was built from keeps them.
    static let sourceFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("pretrained")

    /// The folder: `$DIFFUSIONLAB_PRETRAINED` when set, else `pretrained/` in the working directory when it has a
    /// manifest, else `pretrained/` of the source tree this library was built from.
    public static func folder() -> URL {
        if let path = ProcessInfo.processInfo.environment["DIFFUSIONLAB_PRETRAINED"], !path.isEmpty { return URL(fileURLWithPath: path) }
        let local = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("pretrained")
        return FileManager.default.fileExists(atPath: local.appendingPathComponent("manifest.json").path) ? local : sourceFolder
    }

    /// The names in the manifest, in training order.
    public static func names(folder: URL = folder()) throws(ConfigError) -> [String] {
        try PretrainedManifest.load(folder: folder).models.map(\.name)
    }

    /// The checkpoint file of a model; an unknown name or a missing file is a `ConfigError` saying what to do.
    public static func url(_ name: String, folder: URL = folder()) throws(ConfigError) -> URL {
        let known = try names(folder: folder)
        guard known.contains(name) else {
            throw ConfigError("no pretrained model '\(name)' in \(folder.path); choose one of: \(known.joined(separator: ", "))")
        }
        let url = folder.appendingPathComponent("\(name).safetensors")
        guard FileManager.default.fileExists(atPath: url.path) else { throw ConfigError("\(url.path) is missing; run 'make pretrained' to train it") }
        return url
    }

    /// A committed model with its weights, in evaluation mode (`.model` for diffusion models, `.classifier` for classifiers).
    public static func load(_ name: String, folder: URL = folder()) throws(ConfigError) -> ImageCheckpoint {
        try ImageCheckpoint.load(url(name, folder: folder))
    }

    /// What training recorded beside the model (config, time, metrics).
    public static func record(_ name: String, folder: URL = folder()) throws(ConfigError) -> PretrainedRecord {
        _ = try url(name, folder: folder)
        return try PretrainedRecord.load(folder.appendingPathComponent("\(name).json"))
    }
}
