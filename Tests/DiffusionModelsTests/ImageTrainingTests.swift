import Diffusion
import DiffusionData
import Foundation
import Testing
import TestSupport
@testable import DiffusionModels

/// A small, fast image config: 8×8 digits, a UNet of width 8 with one level.
func tinyImageConfig(_ model: String = "unet", steps: Int = 30) -> ImageTrainingConfig {
    var c = ImageTrainingConfig()
    (c.data, c.model, c.steps, c.batchSize, c.learningRate, c.warmupSteps) = ("digits8", model, steps, 16, 3e-3, 2)
    (c.channels, c.channelMultipliers, c.hiddenSize, c.depth, c.patchSize) = (8, [1], 16, 1, 2)
    return c
}

/// The first n digits at 8×8 (tests pass subsets to keep steps cheap).
func digits8(_ n: Int = 256) throws -> ImageDataset {
    try Digits.load(size: 8).subset(Array(0..<n))
}

@Suite("Image training config: names, ranges and shapes are checked")
struct ImageTrainingConfigTests {
    @Test func badNamesAndValuesAreRejected() {
        func message(_ edit: (inout ImageTrainingConfig) -> Void) -> String {
            var c = ImageTrainingConfig()
            edit(&c)
            do { try c.validate(); return "" } catch { return error.description }
        }
        #expect(message { $0.data = "cifar" }.contains("unknown data set 'cifar'; choose one of: digits, digits8, shapes, idx:IMAGES[,LABELS], folder:PATH"))
        #expect(message { $0.model = "vae" }.contains("unknown model 'vae'; choose one of: unet, dit, classifier"))
        #expect(message { $0.objective = "magic" }.contains("unknown objective 'magic'"))
        #expect(message { $0.channels = 12 }.contains("multiple of 8"))
        #expect(message { $0.channelMultipliers = [] }.contains("channelMultipliers"))
        #expect(message { $0.steps = 0 }.contains("steps must be in"))
        #expect(message { ($0.model, $0.hiddenSize) = ("dit", 90) }.contains("hiddenSize must be divisible"))
        #expect(message { ($0.model, $0.conditional) = ("classifier", true) }.contains("not a conditional diffusion model"))
        #expect(message { ($0.objective, $0.prediction) = ("flow", "epsilon") }.contains("zero-terminal-SNR"))
        #expect(message { _ in }.isEmpty)
    }

    @Test func shapeChecks() {
        let digits = ImageDataShape(channels: 1, size: 16, classNames: (0...9).map(String.init))
        func message(_ edit: (inout ImageTrainingConfig) -> Void, _ shape: ImageDataShape = digits) -> String {
            var c = ImageTrainingConfig()
            edit(&c)
            do { try c.validate(for: shape); return "" } catch { return error.description }
        }
        #expect(message { $0.attentionResolutions = [4] }.contains("4 is not a feature-map size of this UNet (16, 8)"))
        #expect(message({ $0.channelMultipliers = [1, 1, 1, 1] }, ImageDataShape(channels: 1, size: 12, classNames: ["a", "b"])).contains("does not halve 3 times"))
        #expect(message { ($0.model, $0.patchSize) = ("dit", 3) }.contains("patchSize 3 does not divide the image size 16"))
        #expect(message({ $0.conditional = true }, ImageDataShape(channels: 1, size: 16, classNames: ["only"])).contains("at least 2"))
        #expect(message { $0.attentionResolutions = [8] }.isEmpty)
    }

    @Test("JSON: unknown keys and wrong types are rejected, missing keys take defaults, the JSON round-trips")
    func json() throws {
        let c = try ImageTrainingConfig.decode(json: Data(#"{"data": "shapes", "model": "dit", "depth": 2}"#.utf8), source: "x.json")
        #expect(c.data == "shapes" && c.model == "dit" && c.depth == 2 && c.channels == ImageTrainingConfig().channels)
        #expect(try ImageTrainingConfig.decode(json: Data(c.json.utf8), source: "again") == c)
        #expect(throws: ConfigError.self) { try ImageTrainingConfig.decode(json: Data(#"{"dept": 2}"#.utf8), source: "x.json") }
        do { _ = try ImageTrainingConfig.decode(json: Data(#"{"depth": "two"}"#.utf8), source: "x.json") } catch {
            #expect(error.description.contains("'depth' has the wrong type"))
        }
    }

    @Test("data names: idx paths infer the labels file; missing files and folders are named")
    func dataSources() {
        #expect(ImageDataSource.idxPaths("/d/train-images-idx3-ubyte.gz") == ("/d/train-images-idx3-ubyte.gz", "/d/train-labels-idx1-ubyte.gz"))
        #expect(ImageDataSource.idxPaths("/d/a,/e/b") == ("/d/a", "/e/b"))
        for (name, needle) in [("idx:/nonexistent/x-images-idx3-ubyte", "file '/nonexistent/x-images-idx3-ubyte' does not exist"),
                               ("folder:/nonexistent/pngs", "folder '/nonexistent/pngs' does not exist")] {
            do { _ = try ImageDataSource.load(name); Issue.record("\(name) should fail") } catch { #expect(error.description.contains(needle)) }
        }
    }
}

@Suite("Image training: batches, loss, resume, EMA weights")
struct ImageTrainerTests {
    @Test("epochs visit every image once, and batch k depends only on (seed, k)")
    func epochOrder() {
        var a = EpochOrder(count: 10, seed: 3)
        let epoch0 = (0..<5).flatMap { a.batch($0, size: 2) }
        #expect(epoch0.sorted() == Array(0..<10))
        let epoch1 = (5..<10).flatMap { a.batch($0, size: 2) }
        #expect(epoch1.sorted() == Array(0..<10) && epoch1 != epoch0)
        var b = EpochOrder(count: 10, seed: 3)
        #expect(b.batch(7, size: 2) == Array(epoch1[4..<6]))
        #expect(b.batch(2, size: 3) == Array((epoch0 + epoch1)[6..<9]))
    }

    @Test("the loss decreases on a tiny UNet, DiT and classifier", arguments: ["unet", "dit", "classifier"])
    func lossDecreases(_ model: String) throws {
        var c = tinyImageConfig(model, steps: 60)
        c.testCount = 32
        // GroupNorm(8) on 8 channels normalises each channel alone, and the classifier's mean pooling then sees
        // almost nothing: it needs two channels per group.
        if model == "classifier" { (c.channels, c.channelMultipliers) = (16, [1, 2]) }
        let trainer = try ImageTrainer(c, data: try digits8())
        var losses: [Double] = []
        trainer.train(onStep: { _, loss in losses.append(loss) })
        let first = losses.prefix(10).reduce(0, +) / 10, last = losses.suffix(10).reduce(0, +) / 10
        #expect(losses.count == 60 && losses.allSatisfy(\.isFinite))
        #expect(last < 0.75 * first, "\(model): first 10 steps \(first), last 10 \(last)")
    }

    @Test("resume: 4 steps, save, a new trainer resumes, 4 more = 8 steps straight, bit for bit", arguments: [false, true])
    func resumeIsBitIdentical(_ conditional: Bool) throws {
        var c = tinyImageConfig(steps: 8)
        (c.conditional, c.dropout) = (conditional, 0.1)
        let data = try digits8(64)
        let straight = try ImageTrainer(c, data: data)
        straight.train()
        let dir = TemporaryFolder.make("image-resume")
        let first = try ImageTrainer(c, data: data)
        first.train(shouldStop: { first.step == 4 })
        let url = dir.appendingPathComponent("half.safetensors")
        try first.save(to: url)
        let second = try ImageTrainer(c, data: data)
        try second.resume(from: url)
        #expect(second.step == 4)
        second.train()
        let a = straight.network.namedParameters(), b = second.network.namedParameters()
        #expect(a.count == b.count && zip(a, b).allSatisfy { $0.0 == $1.0 && $0.1.value.scalars == $1.1.value.scalars })
        #expect(zip(straight.samplingWeights, second.samplingWeights).allSatisfy { $0.1.scalars == $1.1.scalars })
        let loaded = try ImageCheckpoint.load(url)
        #expect(loaded.step == 4 && loaded.config == c && loaded.shape == ImageDataShape(channels: 1, size: 8, classNames: (0...9).map(String.init)))
    }

    @Test("exported weights are the EMA's, and load into a model that samples like the trainer's")
    func exportedWeights() throws {
        let c = tinyImageConfig(steps: 5)
        let trainer = try ImageTrainer(c, data: try digits8(64))
        trainer.train()
        let url = TemporaryFolder.make("image-export").appendingPathComponent("weights.safetensors")
        try trainer.exportWeights(to: url, metadata: ["note": "x"])
        let file = try SafeTensors.read(url)
        #expect(file.tensors.keys.allSatisfy { $0.hasPrefix("ema.") } && file.tensors.count == trainer.network.namedParameters().count)
        #expect(file.metadata["note"] == "x" && ImageCheckpoint.isImageCheckpoint(url))
        let loaded = try ImageCheckpoint.load(url)
        var options = SamplingOptions()
        (options.count, options.steps, options.sampler) = (3, 2, "ddim")
        let sampler = ImageSampler(options)
        let x = try sampler.sample(loaded.model!, config: c, shape: loaded.shape).images
        let y = try sampler.sample(trainer.samplingModel(), config: c, shape: trainer.shape).images
        #expect(x.shape == [3, 1, 8, 8] && x.scalars == y.scalars)
        // The EMA differs from the raw weights after training.
        #expect(zip(trainer.samplingWeights, trainer.network.namedParameters()).contains { $0.1.scalars != $1.1.value.scalars })
    }
}

/// x̂₀ = label/10 in every pixel (the null class 10 gives 1): exposes which label reached the network.
final class LabelEcho: Module, NoiseConditionalNetwork {
    let classCount = 10
    func callAsFunction(_ x: Tensor, _ c: Tensor, labels: Tensor?) -> Tensor {
        let y = labels ?? Tensor.full([x.shape[0]], 10)
        return Tensor.zeros(x.shape) + (y / 10).reshaped([x.shape[0], 1, 1, 1])
    }
}

@Suite("Image sampling: labels, guidance, batches, denoising frames")
struct ImageSamplerTests {
    static let shape = ImageDataShape(channels: 1, size: 4, classNames: (0...9).map(String.init))
    static var config: ImageTrainingConfig {
        var c = ImageTrainingConfig()
        (c.data, c.objective, c.conditional) = ("digits8", "x0", true)
        return c
    }

    @Test("every sample is drawn for its label, in every batch; guidance w extrapolates from the null class")
    func labelsReachTheNetwork() throws {
        let model = try NetworkModel(LabelEcho(), process: DiscreteVP.linear(), output: .sample)
        var options = SamplingOptions()
        (options.count, options.steps, options.sampler) = (7, 3, "ddim")
        let out = try ImageSampler(options, batchSize: 3).sample(model, config: Self.config, shape: Self.shape)
        #expect(out.labels?.scalars == [0, 1, 2, 3, 4, 5, 6])
        for i in 0..<7 { #expect(out.images.select(axis: 0, i).scalars.allSatisfy { Swift.abs($0 - Float(i) / 10) < 1e-5 }) }
        (options.label, options.guidanceScale) = (3, 3)
        let guided = try ImageSampler(options).sample(model, config: Self.config, shape: Self.shape)
        // 1 + 3·(0.3 − 1) = −1.1 in every pixel.
        #expect(guided.labels?.scalars == Array(repeating: 3, count: 7) && guided.images.scalars.allSatisfy { Swift.abs($0 + 1.1) < 1e-4 })
        options.label = 10
        #expect(throws: ConfigError.self) { try ImageSampler(options).sample(model, config: Self.config, shape: Self.shape) }
    }

    @Test("batch size does not change the samples (stochastic sampler); frames record the first samples")
    func batchesAndFrames() throws {
        let c = tinyImageConfig()
        let shape = ImageDataShape(channels: 1, size: 8, classNames: (0...9).map(String.init))
        let model = try c.makeModel(shape)
        var options = SamplingOptions()
        (options.count, options.steps, options.sampler, options.schedule) = (5, 4, "ddpm", "trailing")
        let whole = try ImageSampler(options, batchSize: 5).sample(model, config: c, shape: shape, recordFirst: 2)
        let pieces = try ImageSampler(options, batchSize: 2).sample(model, config: c, shape: shape)
        // Equal up to rounding: the noise of sample j depends only on (seed, j); a GEMM may round differently at another batch size.
        let gap = zip(whole.images.scalars, pieces.images.scalars).map { Swift.abs($0 - $1) }.max()!
        #expect(whole.images.shape == [5, 1, 8, 8] && gap < 1e-3, "largest difference \(gap)")
        #expect(whole.frames.count == 4 + 1 && whole.frames.allSatisfy { $0.shape == [2, 1, 8, 8] })
        #expect(whole.frames.last!.scalars == whole.images.slice(axis: 0, 0, 2).scalars)
    }
}

@Suite("Image evaluation: Fréchet distance against its floor")
struct ImageEvaluationTests {
    @Test("real images score at the floor, noise far above it; the floor is the real-vs-real distance at n")
    func frechetAgainstFloor() throws {
        let set = try Digits.load(size: 8)
        let classifier = withParameterSeed(1) { Classifier(ClassifierConfig(channels: 8, channelMultipliers: [1, 2])) }
        var g = RandomGenerator(seed: 5)
        let order = g.permutation(set.count)
        let real = set.images.indexSelect(axis: 0, indices: Array(order[..<1200])), held = set.images.indexSelect(axis: 0, indices: Array(order[1200..<1400]))
        let good = ImageEvaluation.frechet(samples: held, real: real, classifier: classifier, repeats: 3)
        let noise = ImageEvaluation.frechet(samples: Tensor.randomNormal([200, 1, 8, 8], seed: 4), real: real, classifier: classifier, repeats: 3)
        print("Fréchet test: held-out real \(good), noise \(noise)")
        #expect(good.count == 200 && good.floor > 0 && good.ratio < 1.5, "\(good)")
        #expect(noise.ratio > 20, "\(noise)")
        #expect(noise.floor == good.floor)  // the floor depends only on the real images, n and the seed
    }
}
