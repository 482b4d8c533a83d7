import ArgumentParser
import Diffusion
import DiffusionData
import DiffusionModels
import Foundation

/// Flags of `diffusion sample` that only image checkpoints read.
struct ImageSampleFlags: ParsableArguments {
    @Option(help: "Also write the samples as a NumPy .npy file, float32 [count, c, h, w] in [−1, 1] (image models).") var npy: String?
    @Option(help: "Write an animated GIF of the denoising of the first 16 samples (image models).") var gif: String?
    @Option(help: "Enlarge every pixel of the PNG grid and the GIF this many times (image models; default 4).") var gridScale: Int?
    @Option(help: "Images per row of the PNG grid (image models; default ⌈√count⌉).") var columns: Int?
    @Option(help: "Text for a text-conditioned model (e.g. unet-t2i-shapes), in Chinese or English with the words of the shapes captions; repeat it to cycle through several prompts.")
    var prompt: [String] = []

    func validate() throws {
        if let gridScale, !(1...32).contains(gridScale) { throw ValidationError("--grid-scale must be in 1…32, got \(gridScale)") }
        if let columns, !(1...1000).contains(columns) { throw ValidationError("--columns must be in 1…1000, got \(columns)") }
    }

    func rejectForToy() throws {
        if npy != nil || gif != nil || gridScale != nil || columns != nil || !prompt.isEmpty {
            throw ValidationError("--npy, --gif, --grid-scale, --columns and --prompt apply to image checkpoints; this is a toy checkpoint")
        }
    }
}

extension CheckpointOptions {
    /// Loads an image checkpoint and checks the requested prediction against it.
    func loadImage() throws -> ImageCheckpoint {
        let path = try self.path()
        if let p = prediction, TrainingConfig.prediction(named: p) == nil {
            throw ValidationError("unknown prediction '\(p)'; choose one of: \(Prediction.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        let loaded: ImageCheckpoint
        do { loaded = try ImageCheckpoint.load(URL(fileURLWithPath: path)) } catch { throw ValidationError(error.description) }
        if let p = prediction, let want = TrainingConfig.prediction(named: p), !loaded.config.isClassifier, want != loaded.config.resolvedPrediction {
            throw ValidationError("checkpoint '\(path)' was trained with \(loaded.config.resolvedPrediction.rawValue)-prediction, but \(want.rawValue) was requested")
        }
        return loaded
    }
}

/// Outputs of image sampling: a PNG grid, .npy values, a GIF of the denoising.
enum ImageOutputs {
    static let gifSamples = 16

    static func grid(_ images: Tensor, columns: Int?, scale: Int) throws -> Data {
        try PNG.encode(ImageGrid.raster(images, columns: columns, scale: scale))
    }

    /// One grid per recorded frame; the result is held for a second.
    static func gif(_ frames: [Tensor], scale: Int) -> Data {
        let rasters = frames.map { ImageGrid.raster($0, columns: 4, scale: scale) }
        return GIF.encode(rasters + Array(repeating: rasters.last!, count: 12), delay: 8)
    }
}

extension Sample {
    func runImage() throws {
        let loaded = try checkpoint.loadImage(), path = try checkpoint.path()
        guard let model = loaded.model else { throw ValidationError("checkpoint '\(path)' holds a classifier; sample a diffusion checkpoint") }
        if plot != nil { throw ValidationError("--plot applies to toy checkpoints; image samples are written with --output (PNG), --npy and --gif") }
        var options = sampling.options
        options.count = sampling.count ?? 64
        var sampler = ImageSampler(options)
        sampler.prompts = image.prompt
        do { try sampler.validate(for: loaded.config, shape: loaded.shape) } catch { throw ValidationError(error.description) }
        let png = output ?? (image.npy == nil ? "samples.png" : nil)
        for (path, what) in [(png, "PNG grid"), (image.npy, "NumPy file"), (image.gif, "GIF")] {
            if let path { try ToyOutputs.checkWritable(path, what: what) }
        }
        let t0 = Date()
        let result: (images: Tensor, labels: Tensor?, frames: [Tensor])
        do {
            result = try sampler.sample(model, config: loaded.config, shape: loaded.shape, recordFirst: image.gif == nil ? 0 : ImageOutputs.gifSamples)
        } catch { throw ValidationError(error.description) }
        let dt = Date().timeIntervalSince(t0)
        guard result.images.scalars.allSatisfy({ $0.isFinite }) else { throw ValidationError("sampling produced non-finite values; no files written") }
        let scale = image.gridScale ?? 4
        var files: [(path: String, data: Data)] = []
        if let png { files.append((png, try ImageOutputs.grid(result.images, columns: image.columns, scale: scale))) }
        if let npy = image.npy { files.append((npy, NPY.encode(result.images))) }
        if let gif = image.gif { files.append((gif, ImageOutputs.gif(result.frames, scale: scale))) }
        try ToyOutputs.writeAll(files)
        let guided = (loaded.config.conditional || loaded.config.isTextConditional) && options.guidanceScale != 1
        let calls = Sampler.named(options.sampler)!.modelCalls(steps: options.steps) * (guided ? 2 : 1)
        let label = options.label.map { ", label \($0) (\(loaded.shape.classNames[$0]))" } ?? ""
            + (image.prompt.isEmpty ? "" : ", prompt " + image.prompt.map { "“\($0)”" }.joined(separator: ", "))
        print(String(format: "%d images with %@ (%d steps, %d model calls per image%@) in %.2f s → %@", options.count, options.sampler, options.steps, calls,
                     label, dt, files.map(\.path).joined(separator: ", ")))
    }
}
