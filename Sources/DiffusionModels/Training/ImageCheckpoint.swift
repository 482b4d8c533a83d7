import Diffusion
import Foundation

/// A trained image model read back from a checkpoint: a resumable file of `ImageTrainer.save` or the weights of
/// `exportWeights`. Uses the EMA weights when the file has them, else the raw ones; in evaluation mode.
public struct ImageCheckpoint {
    /// What the metadata key `config` of an image checkpoint holds.
    public struct Record: Codable, Equatable, Sendable {
        /// Marks an image checkpoint (toy checkpoints hold a bare `TrainingConfig`).
        public var format = Self.formatName
        public var config: ImageTrainingConfig
        public var data: ImageDataShape
        /// Training steps behind the weights.
        public var step: Int

        public static let formatName = "diffusionlab.image/1"

        public init(config: ImageTrainingConfig, data: ImageDataShape, step: Int) { (self.config, self.data, self.step) = (config, data, step) }

        public var json: String {
            let e = JSONEncoder()
            e.outputFormatting = [.sortedKeys]
            return String(decoding: try! e.encode(self), as: UTF8.self)
        }
    }

    public let record: Record
    /// The diffusion model (nil for a classifier checkpoint).
    public let model: NetworkModel<ImageNetwork>?
    /// The classifier (nil for a diffusion checkpoint).
    public let classifier: Classifier?
    public let metadata: [String: String]

    public var config: ImageTrainingConfig { record.config }
    public var shape: ImageDataShape { record.data }
    public var step: Int { record.step }

    /// Whether the file's metadata marks it as an image checkpoint (nothing else is checked).
    public static func isImageCheckpoint(_ url: URL) -> Bool {
        guard let file = try? SafeTensors.read(url), let json = file.metadata["config"],
              let object = try? JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any] else { return false }
        return object["format"] as? String == Record.formatName
    }

    /// Reads a checkpoint; every problem is a `ConfigError` naming the file.
    public static func load(_ url: URL) throws(ConfigError) -> ImageCheckpoint {
        let file: SafeTensorsFile
        do { file = try SafeTensors.read(url) } catch { throw ConfigError("cannot read checkpoint: \(error)") }
        guard let json = file.metadata["config"], let record = try? JSONDecoder().decode(Record.self, from: Data(json.utf8)),
              record.format == Record.formatName else {
            throw ConfigError("\(url.path): not a DiffusionLab image checkpoint (no image config in its metadata)")
        }
        do { try record.config.validate(for: record.data) } catch { throw ConfigError("\(url.path): \(error.description)") }
        let prefix = file.tensors.keys.contains { $0.hasPrefix("ema.") } ? "ema." : "model."
        var tensors: [String: Tensor] = [:]
        for (name, t) in file.tensors where name.hasPrefix(prefix) { tensors[String(name.dropFirst(prefix.count))] = t }
        let network: Module
        var model: NetworkModel<ImageNetwork>?, classifier: Classifier?
        if record.config.isClassifier {
            classifier = try record.config.makeClassifier(record.data)
            network = classifier!
        } else {
            model = try record.config.makeModel(record.data)
            network = model!.network
        }
        do { try network.load(tensors, strict: true, source: url.path) } catch { throw ConfigError("\(error)") }
        network.eval()
        return ImageCheckpoint(record: record, model: model, classifier: classifier, metadata: file.metadata)
    }
}
