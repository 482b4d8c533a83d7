import Diffusion
import DiffusionData
import Foundation

/// Samples images from a trained image model (a `NetworkModel` of an `ImageNetwork`, or of any network on images)
/// with any registered sampler, classifier-free guidance
/// for conditional models, in batches of `batchSize`. Sample j's starting noise and sampler noise depend only on
/// (seed, j) (`NoiseSource.firstSample`), so the batch size does not change the images.
public struct ImageSampler {
    public var options: SamplingOptions
    public var batchSize = 250
    /// Text-conditioned models: sample j is drawn for prompts[j mod count] (empty: the empty text for all).
    public var prompts: [String] = []

    public init(_ options: SamplingOptions, batchSize: Int = 250) {
        precondition(batchSize > 0, "ImageSampler needs a positive batch size")
        (self.options, self.batchSize) = (options, batchSize)
    }

    /// Checks the options against a model trained with `config` on data of `shape`.
    public func validate(for config: ImageTrainingConfig, shape: ImageDataShape) throws(ConfigError) {
        guard !config.isClassifier else { throw ConfigError("this checkpoint holds a classifier, not a diffusion model") }
        if !prompts.isEmpty && !config.isTextConditional {
            throw ConfigError("a prompt needs a text-conditioned model; this one was trained without text (text: true)")
        }
        if config.isTextConditional && options.label != nil { throw ConfigError("this model is conditioned on text: give a prompt, not a label") }
        try options.validate(for: config, conditional: config.conditional || config.isTextConditional, classCount: shape.classCount, data: config.data)
        if config.isTextConditional { _ = try promptTokens(count: Swift.max(1, prompts.count), config: config) }
    }

    /// Token ids [n, L] of the prompts of samples 0..<n of a text-conditioned model; a prompt the tokenizer refuses
    /// is a `ConfigError` naming the fault.
    public func promptTokens(count n: Int, config: ImageTrainingConfig) throws(ConfigError) -> Tensor {
        let texts = prompts.isEmpty ? [String](repeating: "", count: n) : (0..<n).map { prompts[$0 % prompts.count] }
        do { return try CaptionTokenizer.shapes.strictEncode(texts, length: config.resolvedTextLength) } catch {
            throw ConfigError(error.description)
        }
    }

    /// The label of every sample of a conditional model: `options.label`, else the classes in turn (j mod K).
    public func labels(count n: Int, shape: ImageDataShape) -> Tensor {
        Tensor((0..<n).map { Float(options.label ?? $0 % shape.classCount) })
    }

    /// Images [count, c, h, w], their labels (conditional models) and, when `recordFirst` > 0, the denoising process
    /// of the first `recordFirst` samples: one frame per model call (the state scaled to unit variance, x/√(α² + σ²)),
    /// then the result.
    public func sample<Net: NoiseConditionalNetwork>(_ model: NetworkModel<Net>, config: ImageTrainingConfig, shape: ImageDataShape,
                       recordFirst: Int = 0) throws(ConfigError) -> (images: Tensor, labels: Tensor?, frames: [Tensor]) {
        try validate(for: config, shape: shape)
        let σ = try options.sigmas(for: config)
        let sampler = Sampler.named(options.sampler)!
        let n = options.count
        let labels = config.conditional ? labels(count: n, shape: shape) : config.isTextConditional ? try promptTokens(count: n, config: config) : nil
        var parts: [Tensor] = [], frames: [Tensor] = []
        withNoGrad {
            for lo in stride(from: 0, to: n, by: batchSize) {
                let hi = Swift.min(n, lo + batchSize)
                let noise = NoiseSource(seed: options.seed, firstSample: lo)
                let x = noise.prior([hi - lo, shape.channels, shape.size, shape.size], sigma: σ[0])
                var denoiser: any Denoiser = model
                if let labels {
                    denoiser = ClassifierFreeGuidance(model, labels: labels.slice(axis: 0, lo, hi), scale: options.guidanceScale,
                                                      rescale: options.guidanceRescale)
                }
                if lo == 0 && recordFirst > 0 {
                    let recorder = DenoisingRecorder(denoiser, first: Swift.min(recordFirst, hi))
                    let out = sampler(recorder, x, sigmas: σ, noise: noise)
                    frames = recorder.frames + [out.slice(axis: 0, 0, Swift.min(recordFirst, hi))]
                    parts.append(out)
                } else {
                    parts.append(sampler(denoiser, x, sigmas: σ, noise: noise))
                }
            }
        }
        return (Tensor.concat(parts, axis: 0), labels, frames)
    }
}

/// Records the states a sampler passes to its denoiser (the first `first` samples, scaled to unit variance).
final class DenoisingRecorder: Denoiser {
    let base: any Denoiser
    let first: Int
    private(set) var frames: [Tensor] = []

    init(_ base: any Denoiser, first: Int) { (self.base, self.first) = (base, first) }

    func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        let scale = 1 / (level.alpha * level.alpha + level.sigma * level.sigma).squareRoot()
        frames.append(x.slice(axis: 0, 0, first) * Float(scale))
        return base.denoise(x, at: level)
    }
}
