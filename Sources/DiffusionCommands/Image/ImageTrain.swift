import ArgumentParser
import Diffusion
import DiffusionData
import DiffusionModels
import Foundation

/// Flags of `diffusion train` that only image training reads.
struct ImageTrainFlags: ParsableArguments {
    @Option(help: "Image model: unet, dit or classifier (image data only).") var model: String?
    @Option(help: "Resize the images to this size (image data only).") var imageSize: Int?
    @Option(help: "UNet/classifier width of the first level (image data only).") var channels: Int?
    @Option(help: "DiT token width (image data only).") var hiddenSize: Int?
    @Option(help: "DiT blocks (image data only).") var depth: Int?
    @Option(help: "DiT patch size (image data only).") var patchSize: Int?

    var isEmpty: Bool { model == nil && imageSize == nil && channels == nil && hiddenSize == nil && depth == nil && patchSize == nil }
}

extension Train {
    /// Whether the run trains an image model: the data set (from --data or the config file) is an image one, or
    /// an image flag is given. An unknown data set is an error listing every toy and image name.
    func isImageRun() throws -> Bool {
        var name = data
        if name == nil, let config, let bytes = FileManager.default.contents(atPath: config),
           let object = try? JSONSerialization.jsonObject(with: bytes) as? [String: Any] {
            name = object["data"] as? String
            if name == nil && object["model"] != nil { return true }
        }
        if let name {
            if ImageDataSource.isKnown(name) { return true }
            if ToyDataset.named(name) == nil {
                throw ValidationError("unknown data set '\(name)'; choose one of: \((ToyDataset.names + ImageDataSource.names).joined(separator: ", "))")
            }
            if !image.isEmpty { throw ValidationError("--model, --image-size, --channels, --hidden-size, --depth and --patch-size apply to image data, not to the toy set '\(name)'") }
            return false
        }
        return !image.isEmpty
    }

    /// The image config: defaults, then the config file, then flags; validated (data files are read by `run`).
    func resolvedImageConfig() throws -> ImageTrainingConfig {
        var c = ImageTrainingConfig()
        if let config {
            guard let bytes = FileManager.default.contents(atPath: config) else { throw ValidationError("cannot read config file '\(config)'") }
            do { c = try ImageTrainingConfig.decode(json: bytes, source: config) } catch { throw ValidationError(error.description) }
        }
        if width != nil || blocks != nil { throw ValidationError("--width and --blocks size the toy MLP; image models use --channels (UNet) or --hidden-size and --depth (DiT)") }
        if let data { c.data = data }
        applySharedFlags(to: &c)
        if let m = image.model { c.model = m }
        if let v = image.imageSize { c.imageSize = v }
        if let v = image.channels { c.channels = v }
        if let v = image.hiddenSize { c.hiddenSize = v }
        if let v = image.depth { c.depth = v }
        if let v = image.patchSize { c.patchSize = v }
        do { try c.validate() } catch { throw ValidationError(error.description) }
        return c
    }

    func runImage() throws {
        let config = try resolvedImageConfig()
        try ToyOutputs.checkWritable(output, what: "checkpoint")
        let url = URL(fileURLWithPath: output)
        let trainer: ImageTrainer
        do { trainer = try ImageTrainer(config) } catch { throw ValidationError(error.description) }
        if resume && FileManager.default.fileExists(atPath: output) {
            let saved: ImageCheckpoint
            do { saved = try ImageCheckpoint.load(url) } catch { throw ValidationError("cannot resume: \(error.description)") }
            guard saved.config == config else { throw ValidationError("cannot resume from '\(output)': it was trained with a different config (\(saved.config.json))") }
            do { try trainer.resume(from: url) } catch { throw ValidationError("cannot resume from '\(output)': \(error)") }
        }
        let log = { (s: String) in FileHandle.standardError.write(Data(s.utf8)) }
        let what = config.isClassifier ? "a classifier" : "\(config.objective) \(config.model)\(config.conditional ? " (class-conditional)" : "")"
        log("Training \(what) on \(config.data) (\(trainer.trainSet.count) images \(trainer.shape.channels)×\(trainer.shape.size)×\(trainer.shape.size)): \(config.steps) steps, batch \(config.batchSize), \(trainer.network.parameterCount) parameters\(trainer.step > 0 ? ", resuming at step \(trainer.step)" : "")\n")
        let run = trainWithProgress(trainer, mode: ProgressBar.Mode(rawValue: progress)!, afterStep: TrainHooks.afterStep.withLock { $0 })
        do { try trainer.save(to: url) } catch { throw ValidationError("cannot write the checkpoint '\(output)': \(error)") }
        if trainer.step < config.steps {
            log("Interrupted: stopped after step \(trainer.step) of \(config.steps); a valid checkpoint of these \(trainer.step) steps was written to \(output) (continue with --resume).\n")
            throw ExitCode(Interrupt.exitStatus)
        }
        var accuracy = ""
        if trainer.classifier != nil, let test = trainer.testSet {
            let a = ClassifierEvaluation.accuracy(trainer.evaluationClassifier(), images: test.images, labels: test.labelTensor)
            accuracy = String(format: ", held-out accuracy %.2f%% (%d images)", 100 * a, test.count)
        }
        let rate = Double(run.steps) / Swift.max(run.wallSeconds, 1e-9)
        print(String(format: "Trained %d steps in %.1f s (%.1f s CPU, %.2f it/s), final loss %.4f%@ → %@", run.steps, run.wallSeconds, run.cpuSeconds, rate,
                     run.lastLoss, accuracy, output))
    }
}
