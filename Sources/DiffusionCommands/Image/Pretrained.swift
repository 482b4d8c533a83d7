import ArgumentParser
import Diffusion
import DiffusionData
import DiffusionEngine
import DiffusionModels
import Foundation

/// `diffusion pretrained` (what `make pretrained` runs): trains every model of pretrained/manifest.json from its
/// committed config and seed, writes its EMA weights and a record of time and metrics beside it.
struct Pretrained: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the pretrained models of pretrained/manifest.json and record their time and metrics.",
        discussion: "Each model is trained from pretrained/configs/<name>.json (seed included); its EMA weights go to pretrained/<name>.safetensors and a record (wall and CPU time, threads, load average, loss, and for diffusion models the Fréchet distance with its floor and the accuracy of conditional samples, measured as the manifest says) to pretrained/<name>.json. Classifiers are trained first: diffusion models are measured in their features. --evaluate re-measures committed checkpoints without training."
    )

    @Option(help: "Folder with manifest.json and configs/.") var folder: String = "pretrained"
    @Option(help: "Only these models (comma-separated names; default all).") var only: String?
    @Flag(help: "Measure the committed checkpoints again without training; records are updated.") var evaluate = false
    @Option(help: "Progress on stderr: auto, bar, lines, none.") var progress: String = "auto"
    @OptionGroup var compute: ComputeOptions

    func run() throws {
        compute.apply()
        let root = URL(fileURLWithPath: folder)
        let manifest: PretrainedManifest
        do { manifest = try PretrainedManifest.load(folder: root) } catch { throw ValidationError(error.description) }
        let names = only.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? manifest.models.map(\.name)
        if let bad = names.first(where: { manifest.entry($0) == nil }) {
            throw ValidationError("unknown model '\(bad)'; the manifest has: \(manifest.models.map(\.name).joined(separator: ", "))")
        }
        guard let mode = ProgressBar.Mode(rawValue: progress) else { throw ValidationError("unknown --progress '\(progress)'; choose auto, bar, lines or none") }
        for entry in manifest.models where names.contains(entry.name) {
            try process(entry, manifest: manifest, root: root, mode: mode)
        }
    }

    func process(_ entry: PretrainedManifest.Entry, manifest: PretrainedManifest, root: URL, mode: ProgressBar.Mode) throws {
        let log = { (s: String) in FileHandle.standardError.write(Data(s.utf8)) }
        let weights = root.appendingPathComponent("\(entry.name).safetensors"), recordURL = root.appendingPathComponent("\(entry.name).json")
        let config: ImageTrainingConfig
        do { config = try manifest.config(of: entry, folder: root) } catch { throw ValidationError(error.description) }
        var record: PretrainedRecord
        if evaluate {
            do { record = try PretrainedRecord.load(recordURL) } catch { throw ValidationError("\(error.description) (train it first)") }
        } else {
            let trainer: ImageTrainer
            do { trainer = try ImageTrainer(config) } catch { throw ValidationError(error.description) }
            log("\(entry.name): \(config.steps) steps, \(trainer.network.parameterCount) parameters, \(Engine.threads) thread(s)\n")
            let load = loadAverage()
            let run = trainWithProgress(trainer, mode: mode)
            let (wall, cpu, lastLoss) = (run.wallSeconds, run.cpuSeconds, run.lastLoss)
            if trainer.step < config.steps { log("Interrupted: nothing written for \(entry.name).\n"); throw ExitCode(Interrupt.exitStatus) }
            do { try trainer.exportWeights(to: weights) } catch { throw ValidationError("cannot write \(weights.path): \(error)") }
            var accuracy: Double?
            if let test = trainer.testSet, trainer.classifier != nil {
                accuracy = ClassifierEvaluation.accuracy(trainer.evaluationClassifier(), images: test.images, labels: test.labelTensor)
            }
            record = PretrainedRecord(name: entry.name, config: config, parameters: trainer.network.parameterCount, steps: trainer.step,
                                      threads: Engine.threads, trainingWallSeconds: wall, trainingCPUSeconds: cpu, loadAverageAtStart: load,
                                      finalLoss: lastLoss, testAccuracy: accuracy, evaluation: nil, quality: nil, checkpointBytes: 0)
            log(String(format: "%@: trained in %.0f s wall, %.0f s CPU%@\n", entry.name, wall, cpu, accuracy.map { String(format: ", held-out accuracy %.2f%%", 100 * $0) } ?? ""))
        }
        record.checkpointBytes = (try? FileManager.default.attributesOfItem(atPath: weights.path)[.size] as? Int) ?? 0
        if let settings = entry.evaluation {
            let quality: SampleQuality
            do { quality = try measure(settings, weights: weights, root: root, config: config) } catch { throw ValidationError("\(entry.name): \(error.description)") }
            (record.evaluation, record.quality) = (settings, quality)
            log(String(format: "%@: FD %.4f, floor %.4f, ratio %.2f×%@ (%@ %d steps, %d samples, %.1f s)\n", entry.name, quality.frechetDistance, quality.floor,
                       quality.ratio, quality.accuracy.map { String(format: ", accuracy %.2f%%", 100 * $0) } ?? "", settings.sampler, settings.steps,
                       settings.count, quality.samplingSeconds))
            for f in settings.failures(quality) { log("\(entry.name): MISSED: \(f)\n") }
        }
        do { try Data(record.json.utf8).write(to: recordURL, options: .atomic) } catch { throw ValidationError("cannot write \(recordURL.path): \(error)") }
    }

    func measure(_ settings: PretrainedManifest.EvaluationSettings, weights: URL, root: URL, config: ImageTrainingConfig) throws(ConfigError) -> SampleQuality {
        let model = try ImageCheckpoint.load(weights)
        let judge = try ImageCheckpoint.load(root.appendingPathComponent("\(settings.classifier).safetensors"))
        guard let classifier = judge.classifier, let diffusion = model.model else { throw ConfigError("the evaluation needs a diffusion model and a classifier") }
        let real = try config.loadData().set
        return try settings.measure(diffusion, config: model.config, shape: model.shape, classifier: classifier, real: real)
    }
}

/// The one-minute load average (Linux /proc/loadavg), if readable.
func loadAverage() -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
    return text.split(separator: " ").first.flatMap { Double($0) }
}
