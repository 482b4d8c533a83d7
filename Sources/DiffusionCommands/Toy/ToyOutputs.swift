import ArgumentParser
import Diffusion
import DiffusionModels
import DiffusionPlot
import Foundation

/// Output files of the toy commands: checked before any work, written under temporary names and renamed only when
/// every file of a command is ready, so a failure leaves no partial outputs.
enum ToyOutputs {
    /// Throws unless `path`'s folder exists and is writable.
    static func checkWritable(_ path: String, what: String) throws {
        let dir = URL(fileURLWithPath: path).deletingLastPathComponent().path
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw ValidationError("cannot write the \(what) '\(path)': folder '\(dir)' does not exist")
        }
        guard FileManager.default.isWritableFile(atPath: dir) else {
            throw ValidationError("cannot write the \(what) '\(path)': folder '\(dir)' is not writable")
        }
    }

    /// Writes every (path, bytes) to a temporary sibling, then renames them all into place.
    static func writeAll(_ files: [(path: String, data: Data)]) throws {
        var temps: [(URL, URL)] = []
        do {
            for (path, data) in files {
                let url = URL(fileURLWithPath: path)
                let tmp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
                try data.write(to: tmp)
                temps.append((tmp, url))
            }
            for (tmp, url) in temps {
                guard rename(tmp.path, url.path) == 0 else { throw ValidationError("cannot move \(tmp.path) to \(url.path)") }
            }
        } catch {
            for (tmp, _) in temps { try? FileManager.default.removeItem(at: tmp) }
            throw ValidationError("cannot write outputs: \(error)")
        }
    }

    /// CSV with header x,y[,label] (see `SampleCSV`).
    static func csv(_ points: Tensor, labels: Tensor?) -> String { SampleCSV.encode(points, labels: labels) }

    /// Samples over data: a scatter in 2-D (data grey, samples coloured by label), histograms in 1-D.
    static func svg(samples: Tensor, labels: Tensor?, data: Tensor, title: String) -> String {
        let d = samples.count / Swift.max(samples.shape[0], 1)
        if d == 1 {
            var plot = Plot(title: title, x: Axis("x"), y: Axis("density"))
            let all = samples.scalars + data.scalars
            let (lo, hi) = (Double(all.min() ?? -1), Double(all.max() ?? 1))
            for (t, name, colour) in [(data, "data", 7), (samples, "samples", 0)] {
                let bins = 60, w = (hi - lo) / Double(bins) + 1e-12
                var counts = [Double](repeating: 0, count: bins)
                for v in t.scalars { counts[Swift.min(bins - 1, Int((Double(v) - lo) / w))] += 1 }
                let xs = (0..<bins).map { lo + (Double($0) + 0.5) * w }
                plot.line(x: xs, y: counts.map { $0 / (Double(t.count) * w) }, colour: colour, label: name)
            }
            return plot.svg()
        }
        func points(_ t: Tensor) -> [Point] {
            let v = t.scalars, n = t.shape[0], dd = t.count / Swift.max(n, 1)
            return (0..<n).map { Point(Double(v[$0 * dd]), Double(v[$0 * dd + 1])) }
        }
        var plot = Plot(title: title, x: Axis("x"), y: Axis("y"), equalAspect: true)
        plot.scatter(points(data), colour: 7, radius: 1.2, opacity: 0.35, label: "data")
        if let labels {
            let classes = labels.scalars.map { Int($0) }
            plot.scatter(points(samples), classes: classes.map { $0 % 7 }, classNames: [], radius: 1.4, opacity: 0.7)
        } else {
            plot.scatter(points(samples), colour: 0, radius: 1.4, opacity: 0.7, label: "samples")
        }
        return plot.svg()
    }
}

/// The checkpoint options shared by `sample` and `eval`.
struct CheckpointOptions: ParsableArguments {
    @Option(help: "A checkpoint written by 'diffusion train'.") var checkpoint: String?
    @Option(help: "A committed pretrained image model by name instead of --checkpoint (pretrained/manifest.json, e.g. unet-cfg-digits).")
    var pretrained: String?
    @Option(help: "The prediction type you expect the checkpoint to have (epsilon, sample, v, score, velocity); a mismatch is an error.")
    var prediction: String?

    /// The checkpoint file: --checkpoint, or the committed file of --pretrained; throws when neither exists.
    func path() throws -> String {
        switch (checkpoint, pretrained) {
        case (nil, nil): throw ValidationError("missing --checkpoint <path> (a file written by 'diffusion train') or --pretrained <name>")
        case (.some, .some): throw ValidationError("give --checkpoint or --pretrained, not both")
        case (nil, let name?):
            do { return try PretrainedModels.url(name).path } catch { throw ValidationError(error.description) }
        case (let path?, nil):
            guard FileManager.default.fileExists(atPath: path) else { throw ValidationError("checkpoint '\(path)' does not exist") }
            return path
        }
    }

    /// Whether the checkpoint is an image model's (an `ImageCheckpoint`); throws when it is missing.
    func isImage() throws -> Bool {
        let path = try self.path()
        return ImageCheckpoint.isImageCheckpoint(URL(fileURLWithPath: path))
    }

    /// Loads the checkpoint and checks the requested prediction against it.
    func load() throws -> ToyCheckpoint {
        let checkpoint = try path()
        if let p = prediction, TrainingConfig.prediction(named: p) == nil {
            throw ValidationError("unknown prediction '\(p)'; choose one of: \(Prediction.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let loaded: ToyCheckpoint
        do { loaded = try ToyCheckpoint.load(URL(fileURLWithPath: checkpoint)) } catch { throw ValidationError(error.description) }
        if let p = prediction, let want = TrainingConfig.prediction(named: p), want != loaded.config.resolvedPrediction {
            throw ValidationError("checkpoint '\(checkpoint)' was trained with \(loaded.config.resolvedPrediction.rawValue)-prediction, but \(want.rawValue) was requested")
        }
        return loaded
    }
}

/// The sampling options shared by `sample` and `eval`.
struct SamplingFlags: ParsableArguments {
    @Option(help: "Sampler (see 'diffusion sample --list').") var sampler: String = "heun"
    @Option(help: "Sampler steps (1…10000).") var steps: Int = 25
    @Option(help: "Noise-level schedule: karras, exponential, uniform, trailing (discrete processes).") var schedule: String = "karras"
    @Option(help: "Number of samples (default 2000 for toy models, 64 for image samples, 500 for image eval).") var count: Int?
    @Option(help: "Random seed of the starting noise (and of stochastic samplers).") var seed: UInt64 = 0
    @Option(help: "Class of every sample (conditional models; default: classes drawn as in the data).") var label: Int?
    @Option(name: [.customLong("guidance-scale"), .customLong("guidance")], help: "Classifier-free guidance scale w (1 = conditional model, 0 = unconditional).")
    var guidanceScale: Double = 1
    @Option(help: "Guidance rescale φ in 0…1 (Lin et al. 2023).") var guidanceRescale: Double = 0

    var options: SamplingOptions {
        var o = SamplingOptions()
        (o.sampler, o.steps, o.schedule, o.count, o.seed, o.label) = (sampler, steps, schedule, count ?? 2000, seed, label)
        (o.guidanceScale, o.guidanceRescale) = (guidanceScale, guidanceRescale)
        return o
    }

    func validate() throws {
        guard Sampler.named(sampler) != nil else {
            throw ValidationError("unknown sampler '\(sampler)'; choose one of: \(samplers.map(\.name).joined(separator: ", "))")
        }
        guard SamplingOptions.schedules.contains(schedule) else {
            throw ValidationError("unknown schedule '\(schedule)'; choose one of: \(SamplingOptions.schedules.joined(separator: ", "))")
        }
        guard (1...10_000).contains(steps) else { throw ValidationError("--steps must be in 1…10000, got \(steps)") }
        if let count, !(1...1_000_000).contains(count) { throw ValidationError("--count must be in 1…1000000, got \(count)") }
        guard guidanceScale.isFinite && (0...100).contains(guidanceScale) else { throw ValidationError("--guidance-scale must be in 0…100, got \(guidanceScale)") }
        guard (0...1).contains(guidanceRescale) else { throw ValidationError("--guidance-rescale must be in 0…1, got \(guidanceRescale)") }
    }
}
