import ArgumentParser
import Diffusion
import DiffusionData
import DiffusionModels
import Foundation

extension Eval {
    struct ImageReport: Codable {
        let checkpoint: String, classifier: String, data: String, model: String, sampler: String, steps: Int, count: Int
        let guidanceScale: Double
        let frechetDistance: Double, floor: Double, ratio: Double, repeats: Int
        /// Classifier accuracy of class-conditional samples (each drawn for a known label).
        let accuracy: Double?
        let samplingSeconds: Double
    }

    func runImage() throws {
        let loaded = try checkpoint.loadImage(), path = try checkpoint.path()
        guard let model = loaded.model else { throw ValidationError("checkpoint '\(path)' holds a classifier; evaluate a diffusion checkpoint") }
        let committed = PretrainedModels.folder().appendingPathComponent("classifier-\(loaded.config.data).safetensors").path
        guard let classifierPath = classifier ?? (FileManager.default.fileExists(atPath: committed) ? committed : nil) else {
            throw ValidationError("no classifier for '\(loaded.config.data)': pass --classifier <checkpoint> (train one with 'diffusion train --data \(loaded.config.data) --model classifier')")
        }
        guard FileManager.default.fileExists(atPath: classifierPath) else { throw ValidationError("classifier '\(classifierPath)' does not exist") }
        let judge: ImageCheckpoint
        do { judge = try ImageCheckpoint.load(URL(fileURLWithPath: classifierPath)) } catch { throw ValidationError(error.description) }
        guard let net = judge.classifier else { throw ValidationError("'\(classifierPath)' is not a classifier checkpoint") }
        guard judge.shape == loaded.shape else {
            throw ValidationError("classifier '\(classifierPath)' was trained on \(judge.shape.channels)×\(judge.shape.size)² images with \(judge.shape.classCount) classes, the model makes \(loaded.shape.channels)×\(loaded.shape.size)² with \(loaded.shape.classCount)")
        }
        var options = sampling.options
        options.count = sampling.count ?? 500
        let sampler = ImageSampler(options)
        do { try sampler.validate(for: loaded.config, shape: loaded.shape) } catch { throw ValidationError(error.description) }
        let real: ImageDataset
        do { real = try loaded.config.loadData().set } catch { throw ValidationError("cannot load the real images: \(error.description)") }
        guard 2 * options.count <= real.count else {
            throw ValidationError("the floor needs 2 × --count real images; '\(loaded.config.data)' has \(real.count), so use --count ≤ \(real.count / 2)")
        }
        let t0 = Date()
        let samples: (images: Tensor, labels: Tensor?, frames: [Tensor])
        do { samples = try sampler.sample(model, config: loaded.config, shape: loaded.shape) } catch { throw ValidationError(error.description) }
        let seconds = Date().timeIntervalSince(t0)
        guard samples.images.scalars.allSatisfy({ $0.isFinite }) else { throw ValidationError("sampling produced non-finite values") }
        let fd = ImageEvaluation.frechet(samples: samples.images, real: real.images, classifier: net, repeats: repeats, seed: 0xFD)
        let accuracy = samples.labels.map { ImageEvaluation.accuracy(samples: samples.images, labels: $0, classifier: net) }
        let report = ImageReport(checkpoint: path, classifier: classifierPath, data: loaded.config.data, model: loaded.config.model,
                                 sampler: options.sampler, steps: options.steps, count: options.count, guidanceScale: options.guidanceScale,
                                 frechetDistance: fd.distance, floor: fd.floor, ratio: fd.ratio, repeats: repeats, accuracy: accuracy,
                                 samplingSeconds: seconds)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(report), as: UTF8.self))
            return
        }
        print("\(loaded.config.data) \(loaded.config.model), \(options.sampler) \(options.steps) steps\(loaded.config.conditional ? String(format: ", guidance %.2g", options.guidanceScale) : ""), \(options.count) samples (\(String(format: "%.1f", seconds)) s) vs \(options.count) real images (mean of \(repeats) draws):")
        print(String(format: "  Fréchet distance    %.4f   floor %.4f   ratio %.2f×", fd.distance, fd.floor, fd.ratio))
        if let accuracy { print(String(format: "  classifier accuracy %.2f%% of the samples show their label", 100 * accuracy)) }
    }
}
