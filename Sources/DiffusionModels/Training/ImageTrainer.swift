import Diffusion
import DiffusionData
import Foundation

/// Trains an image model from an `ImageTrainingConfig`: a diffusion UNet or DiT with the config's objective, or the
/// evaluation classifier with cross-entropy on all but `testCount` images. The loop is the toy trainer's: AdamW,
/// linear warm-up then cosine or constant rate, gradient clipping, an EMA of the weights. The EMA's decay grows as
/// 1 − (1 + n)^(−2/3) up to `emaDecay` (diffusers' EMA warm-up), so short runs do not average in their start.
///
/// Step k is reproducible on its own: its images are batch k of the `EpochOrder` of seed + 2 (every image once per
/// epoch), its label dropout, noise levels and noise come from a generator at stream k of seed + 1. The engine's
/// kernels give the same bits for any thread count, so a run does not depend on `--threads`, and a resumed run
/// continues bit-identically. Diffusion losses are reported per pixel (the objective's ‖·‖² divided by c·h·w).
public final class ImageTrainer: StepwiseTrainer {
    public let config: ImageTrainingConfig
    public let shape: ImageDataShape
    /// Images the model trains on (for a classifier: all but the held-out test images).
    public let trainSet: ImageDataset
    /// Held-out images of a classifier (nil for diffusion models).
    public let testSet: ImageDataset?
    /// The diffusion model (nil when training a classifier).
    public let model: NetworkModel<ImageNetwork>?
    public let classifier: Classifier?
    public let optimizer: AdamW
    public let ema: EMA?
    let objective: (any Objective)?
    let schedule: any LRSchedule
    var order: EpochOrder
    /// Attribute classifiers: the attributes of every training image (from its caption).
    let attributeTargets: [ShapeAttributes]?
    /// Steps completed.
    public private(set) var step = 0

    /// Loads the config's data and builds a fresh model.
    public convenience init(_ config: ImageTrainingConfig) throws(ConfigError) {
        let (set, _) = try config.loadData()
        try self.init(config, data: set)
    }

    /// Trains on `data` (already loaded; tests pass small sets).
    public init(_ config: ImageTrainingConfig, data: ImageDataset) throws(ConfigError) {
        self.config = config
        shape = try ImageDataShape(data)
        try config.validate(for: shape)
        if config.isClassifier {
            guard config.testCount < data.count - 1 else { throw ConfigError("testCount \(config.testCount) leaves no training images of the \(data.count)") }
            let split = data.split(testCount: config.testCount, seed: config.seed &+ 3)
            (trainSet, testSet) = (split.train, config.testCount > 0 ? split.test : nil)
            let c = try config.makeClassifier(shape)
            (classifier, model, objective) = (c, nil, nil)
        } else {
            (trainSet, testSet) = (data, nil)
            let m = try config.makeModel(shape)
            (classifier, model, objective) = (nil, m, config.lossObjective)
        }
        let network: Module = model?.network ?? classifier!
        optimizer = AdamW(network.parameters(), lr: config.learningRate, weightDecay: config.weightDecay)
        ema = config.emaDecay > 0 ? EMA(network, decay: config.emaDecay, warmup: .power()) : nil
        schedule = config.learningRateSchedule
        order = EpochOrder(count: trainSet.count, seed: config.seed &+ 2)
        if config.isTextConditional || config.isAttributeClassifier {
            guard let captions = trainSet.captions else { throw ConfigError("data set '\(data.name)' has no captions; text and attributes need them") }
            attributeTargets = config.isAttributeClassifier ? captions.map { ShapeAttributes(prompt: $0.english) } : nil
        } else {
            attributeTargets = nil
        }
    }

    /// Token ids [B, L] of the captions of training images `indices`, each in Chinese or English with probability ½.
    func captionTokens(_ indices: [Int], generator: inout RandomGenerator) -> Tensor {
        let captions = trainSet.captions!, english = generator.uniform([indices.count]).scalars
        let texts = zip(indices, english).map { i, u in u < 0.5 ? captions[i].english : captions[i].chinese }
        return CaptionTokenizer.shapes.encode(texts, length: config.resolvedTextLength)
    }

    /// The module being trained.
    public var network: Module { model?.network ?? classifier! }

    /// Images and labels of batch k.
    public func batch(_ k: Int) -> (images: Tensor, labels: Tensor) {
        trainSet.batch(order.batch(k, size: config.batchSize))
    }

    /// One optimisation step; returns the batch loss (per-pixel for diffusion, cross-entropy for a classifier).
    @discardableResult
    public func trainStep() -> Double {
        let B = config.batchSize
        let indices = order.batch(step, size: B)
        let (x0, labels) = trainSet.batch(indices)
        var rng = RandomGenerator(seed: config.seed &+ 1, stream: UInt64(step) << 24)
        let loss: Tensor
        if let classifier, let attributeTargets {
            loss = AttributeClassification.loss(logits: classifier(x0), targets: AttributeClassification.targets(indices.map { attributeTargets[$0] }))
        } else if let classifier {
            loss = crossEntropy(logits: classifier(x0), labels: labels)
        } else {
            var y: Tensor? = nil
            if config.conditional {
                y = dropLabels(labels, probability: config.labelDropout, classCount: shape.classCount, generator: &rng)
            } else if config.isTextConditional {
                y = dropCaptions(captionTokens(indices, generator: &rng), probability: config.resolvedCaptionDropout, generator: &rng)
            }
            let pixels = Float(x0.count / B)
            loss = objective!(model!, x0, labels: y, rng: &rng).mean() / pixels
        }
        applyUpdate(loss, optimizer: optimizer, learningRate: schedule.lr(at: step), gradClip: config.gradClip, ema: ema)
        step += 1
        return Double(loss.item)
    }

    public var totalSteps: Int { config.steps }

    /// The averaged (EMA) weights, or the current ones without an EMA, by parameter name.
    public var samplingWeights: [(String, Tensor)] {
        ema?.shadow.map { ($0.name, $0.value) } ?? network.namedParameters().map { ($0.0, $0.1.value) }
    }

    /// The diffusion model with the sampling weights, in evaluation mode: a fresh copy, the trainer is untouched.
    public func samplingModel() -> NetworkModel<ImageNetwork> {
        precondition(model != nil, "samplingModel: this trainer trains a classifier")
        let copy = try! config.makeModel(shape)
        try! copy.network.load(Dictionary(uniqueKeysWithValues: samplingWeights), strict: true)
        copy.network.eval()
        return copy
    }

    /// The classifier with the sampling weights, in evaluation mode (a fresh copy).
    public func evaluationClassifier() -> Classifier {
        precondition(classifier != nil, "evaluationClassifier: this trainer trains a diffusion model")
        let copy = try! config.makeClassifier(shape)
        try! copy.load(Dictionary(uniqueKeysWithValues: samplingWeights), strict: true)
        copy.eval()
        return copy
    }

    var record: ImageCheckpoint.Record { ImageCheckpoint.Record(config: config, data: shape, step: step) }

    /// Saves a resumable checkpoint (model, optimizer, EMA; config and data shape in the metadata) atomically.
    public func save(to url: URL) throws {
        try TrainingState.save(to: url, model: network, optimizer: optimizer, ema: ema, step: step, config: record.json)
    }

    /// Saves only the sampling weights (`ema.*`, or `model.*` without an EMA) with the same metadata: the small
    /// file that sampling and evaluation need, e.g. a committed pretrained model. Atomic.
    public func exportWeights(to url: URL, metadata: [String: String] = [:]) throws {
        let prefix = ema == nil ? "model." : "ema."
        try SafeTensors.write(samplingWeights.map { (prefix + $0.0, $0.1) }, metadata: metadata.merging(["config": record.json]) { _, ours in ours }, to: url)
    }

    /// Continues from a checkpoint written by `save` with the same config.
    public func resume(from url: URL) throws {
        let state = try TrainingState.load(from: url, model: network, optimizer: optimizer, ema: ema)
        step = state.step
    }
}
