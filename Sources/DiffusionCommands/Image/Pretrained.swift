import ArgumentParser
import Diffusion
import DiffusionData
import DiffusionEngine
import DiffusionModels
import Foundation

/// `diffusion pretrained` (what `make pretrained` runs): trains every model of pretrained/manifest.json from its
/// committed config and seed, measures it, and only when it meets the manifest's bounds replaces its EMA weights and
/// the record of time and metrics beside them.
struct Pretrained: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train the pretrained models of pretrained/manifest.json and record their time and metrics.",
        discussion: "Each model is trained from pretrained/configs/<name>.json (seed included) and measured: a classifier's held-out accuracy, a diffusion model's Fréchet distance with its real-vs-real floor and the classifier accuracy of conditional samples, once as the manifest's evaluation and once as its cheaper check (the one the tests repeat). When every bound is met, its EMA weights replace pretrained/<name>.safetensors and a record (config, git commit, date, wall and CPU time, threads, load average, loss, metrics) replaces pretrained/<name>.json, both atomically; a model that misses a bound leaves its old files, and the command exits 1. Classifiers come first in the manifest: diffusion models are measured in their features. --evaluate re-measures the committed checkpoints without training."
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
        let selected = manifest.models.filter { names.contains($0.name) }
        var missed: [String] = []
        for (i, entry) in selected.enumerated() {
            log("[\(i + 1)/\(selected.count)] \(entry.name)\n")
            if try !process(entry, manifest: manifest, root: root, mode: mode) { missed.append(entry.name) }
        }
        if !missed.isEmpty {
            log("Missed their bounds (old files kept): \(missed.joined(separator: ", "))\n")
            throw ExitCode(1)
        }
    }

    func log(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }

    /// ", kind 95.0% (chance 16.7%), colour …" in the order of `ShapeAttributes.names`; empty without accuracies.
    func describe(_ accuracy: [String: Double]?, chance: [String: Double]? = nil) -> String {
        guard let accuracy else { return "" }
        return ShapeAttributes.names.compactMap { name in
            accuracy[name].map { a in String(format: ", %@ %.1f%%", name, 100 * a) + (chance?[name].map { String(format: " (chance %.1f%%)", 100 * $0) } ?? "") }
        }.joined()
    }

    /// Trains (unless --evaluate) and measures one entry; writes its files when every bound is met. Returns whether it was.
    func process(_ entry: PretrainedManifest.Entry, manifest: PretrainedManifest, root: URL, mode: ProgressBar.Mode) throws -> Bool {
        let weights = root.appendingPathComponent("\(entry.name).safetensors"), recordURL = root.appendingPathComponent("\(entry.name).json")
        let staged = root.appendingPathComponent("\(entry.name).safetensors.partial")
        defer { try? FileManager.default.removeItem(at: staged) }
        let config: ImageTrainingConfig
        do { config = try manifest.config(of: entry, folder: root) } catch { throw ValidationError(error.description) }
        var record: PretrainedRecord
        var failures: [String] = []
        if evaluate {
            do { record = try PretrainedRecord.load(recordURL) } catch { throw ValidationError("\(error.description) (train it first)") }
            guard record.config == config else { throw ValidationError("\(entry.name): \(entry.config) differs from the recorded config; retrain it") }
        } else {
            let trainer: ImageTrainer
            do { trainer = try ImageTrainer(config) } catch { throw ValidationError(error.description) }
            log("\(entry.name): \(config.steps) steps, \(trainer.network.parameterCount) parameters, \(Engine.threads) thread(s)\n")
            let loadStart = loadAverage()
            let run = trainWithProgress(trainer, mode: mode)
            if trainer.step < config.steps { log("Interrupted: nothing written for \(entry.name).\n"); throw ExitCode(Interrupt.exitStatus) }
            do { try trainer.exportWeights(to: staged) } catch { throw ValidationError("cannot write \(staged.path): \(error)") }
            var accuracy: Double?, attributeAccuracy: [String: Double]?
            if let test = trainer.testSet, trainer.classifier != nil {
                if config.isAttributeClassifier, let captions = test.captions {
                    attributeAccuracy = AttributeClassification.accuracy(trainer.evaluationClassifier(), images: test.images,
                                                                         attributes: captions.map { ShapeAttributes(prompt: $0.english) })
                    accuracy = attributeAccuracy!.values.min()
                } else {
                    accuracy = ClassifierEvaluation.accuracy(trainer.evaluationClassifier(), images: test.images, labels: test.labelTensor)
                }
            }
            record = PretrainedRecord(name: entry.name, config: config, parameters: trainer.network.parameterCount, steps: trainer.step,
                                      gitCommit: gitCommit(root), date: ISO8601DateFormatter().string(from: Date()), threads: Engine.threads,
                                      trainingWallSeconds: run.wallSeconds, trainingCPUSeconds: run.cpuSeconds, loadAverageAtStart: loadStart,
                                      loadAverageAtEnd: loadAverage(), finalLoss: run.lastLoss, testAccuracy: accuracy)
            record.testAttributeAccuracy = attributeAccuracy
            log(String(format: "%@: trained in %.0f s wall, %.0f s CPU, final loss %.4f%@%@\n", entry.name, run.wallSeconds, run.cpuSeconds, run.lastLoss,
                       accuracy.map { String(format: ", held-out accuracy %.2f%%", 100 * $0) } ?? "", describe(attributeAccuracy)))
            if let bound = entry.minTestAccuracy, !((accuracy ?? -1) >= bound) {
                failures.append(String(format: "held-out accuracy %.2f%% is below %.2f%%", 100 * (accuracy ?? .nan), 100 * bound))
            }
        }
        let source = evaluate ? weights : staged
        for (kind, settings) in [("evaluation", entry.evaluation), ("check", entry.check)] {
            guard let settings else { continue }
            log(String(format: "%@ %@: %d samples, %@ %d steps, guidance %.3g…\n", entry.name, kind, settings.count, settings.sampler, settings.steps, settings.guidanceScale))
            let quality: SampleQuality
            do { quality = try measure(settings, weights: source, root: root, config: config) } catch { throw ValidationError("\(entry.name) \(kind): \(error.description)") }
            if kind == "evaluation" { (record.evaluation, record.quality) = (settings, quality) } else { (record.check, record.checkQuality) = (settings, quality) }
            log(String(format: "%@ %@: FD %.4f, floor %.4f, ratio %.2f×%@%@ (sampling %.1f s)\n", entry.name, kind, quality.frechetDistance, quality.floor,
                       quality.ratio, quality.accuracy.map { String(format: ", accuracy %.2f%%", 100 * $0) } ?? "", describe(quality.attributeAccuracy, chance: quality.attributeChance),
                       quality.samplingSeconds))
            failures += settings.failures(quality).map { "\(kind): \($0)" }
        }
        for f in failures { log("\(entry.name): MISSED: \(f)\n") }
        guard failures.isEmpty else { return false }
        if !evaluate {
            guard rename(staged.path, weights.path) == 0 else { throw ValidationError("cannot move \(staged.path) to \(weights.path): errno \(errno)") }
        }
        record.checkpointBytes = (try? FileManager.default.attributesOfItem(atPath: weights.path)[.size] as? Int) ?? 0
        do { try Data(record.json.utf8).write(to: recordURL, options: .atomic) } catch { throw ValidationError("cannot write \(recordURL.path): \(error)") }
        log("\(entry.name): wrote \(weights.path) (\(record.checkpointBytes) bytes) and \(recordURL.path)\n")
        return true
    }

    func measure(_ settings: PretrainedManifest.EvaluationSettings, weights: URL, root: URL, config: ImageTrainingConfig) throws(ConfigError) -> SampleQuality {
        let model = try ImageCheckpoint.load(weights)
        let judgeURL = root.appendingPathComponent("\(settings.classifier).safetensors")
        guard FileManager.default.fileExists(atPath: judgeURL.path) else { throw ConfigError("\(judgeURL.path) is missing; train '\(settings.classifier)' first") }
        let judge = try ImageCheckpoint.load(judgeURL)
        guard let classifier = judge.classifier, let diffusion = model.model else { throw ConfigError("the evaluation needs a diffusion model and a classifier") }
        guard judge.shape == model.shape else { throw ConfigError("classifier '\(settings.classifier)' was trained on other images than the model makes") }
        let real = try config.loadData().set
        return try settings.measure(diffusion, config: model.config, shape: model.shape, classifier: classifier, real: real)
    }
}

/// The one-minute load average (Linux /proc/loadavg), if readable.
func loadAverage() -> Double? {
    guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else { return nil }
    return text.split(separator: " ").first.flatMap { Double($0) }
}

/// The commit of the repository holding `folder` ("-dirty" when Sources/ or Package.swift differ from it), if git knows it.
func gitCommit(_ folder: URL) -> String? {
    func git(_ arguments: [String]) -> String? {
        let p = Process(), out = Pipe()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = ["git", "-C", folder.path] + arguments
        p.standardOutput = out
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { return nil }
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return p.terminationStatus == 0 ? String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : nil
    }
    guard let head = git(["rev-parse", "HEAD"]), !head.isEmpty else { return nil }
    let changes = git(["status", "--porcelain", "--", ":/Sources", ":/Package.swift"]) ?? ""
    return changes.isEmpty ? head : head + "-dirty"
}
