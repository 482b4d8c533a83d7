import Diffusion
import DiffusionData
import Foundation

/// An image training run (a diffusion UNet or DiT, or the evaluation classifier), as stored in a JSON config file
/// and in checkpoints. The objective and optimisation fields and their checks are those of toy training
/// (`DiffusionTrainingSettings`); the data and model fields are checked here. Every problem is a `ConfigError`
/// naming it.
public struct ImageTrainingConfig: DiffusionTrainingSettings, Codable, Sendable, Equatable {
    /// A name from `ImageDataSource.names`.
    public var data = "digits"
    /// unet | dit | classifier.
    public var model = "unet"
    /// Resize the images to imageSize × imageSize (nil: as stored).
    public var imageSize: Int?
    /// Channels read from a PNG folder: 1 (grey) or 3 (RGB).
    public var imageChannels = 3

    public var objective = "ddpm"
    public var process: String?
    public var prediction: String?
    public var zeroTerminalSNR = false
    public var minSNRGamma: Double?
    public var steps = 2000
    public var batchSize = 64
    public var learningRate = 1e-3
    public var warmupSteps = 100
    public var lrSchedule = "cosine"
    public var weightDecay = 0.0
    public var gradClip = 1.0
    public var emaDecay = 0.999
    /// Train a class-conditional model, dropping labels with `labelDropout` for classifier-free guidance.
    public var conditional = false
    public var labelDropout = 0.1
    public var seed: UInt64 = 0

    /// UNet (and classifier) width of the first level, multipliers per level, residual blocks per level,
    /// feature-map sizes with self-attention, dropout.
    public var channels = 32
    public var channelMultipliers = [1, 2]
    public var resBlocks = 1
    public var attentionResolutions: [Int] = []
    /// Attention heads (nil: 1 for the UNet, 4 for the DiT).
    public var heads: Int?
    public var dropout = 0.0
    /// DiT: patch size, token width, blocks, MLP ratio.
    public var patchSize = 2
    public var hiddenSize = 96
    public var depth = 4
    public var mlpRatio = 4
    /// Classifier: images held out of its training to measure its accuracy.
    public var testCount = 300
    /// UNet: condition on the data's captions (`TextToImageUNet`; Chinese or English at random per image), turning a
    /// caption into the empty text with probability `captionDropout` (default 0.1). Tokens per caption (default 16)
    /// and the text encoder's width (default 64). Optional, so configs and checkpoints written before them still read.
    public var text: Bool?
    public var captionDropout: Double?
    public var textLength: Int?
    public var textWidth: Int?
    /// Classifier: predict every attribute the shapes captions state (kind, colour, size, position: one softmax per
    /// group over `ShapeAttributes.counts`) instead of the class.
    public var attributes: Bool?

    public var isTextConditional: Bool { text == true }
    public var isAttributeClassifier: Bool { attributes == true }
    public var resolvedCaptionDropout: Double { captionDropout ?? 0.1 }
    public var resolvedTextLength: Int { textLength ?? 16 }
    public var resolvedTextWidth: Int { textWidth ?? 64 }

    public init() {}

    public static let models = ["unet", "dit", "classifier"]

    public static let keys: Set<String> = [
        "data", "model", "imageSize", "imageChannels", "objective", "process", "prediction", "zeroTerminalSNR", "minSNRGamma", "steps",
        "batchSize", "learningRate", "warmupSteps", "lrSchedule", "weightDecay", "gradClip", "emaDecay", "conditional", "labelDropout",
        "seed", "channels", "channelMultipliers", "resBlocks", "attentionResolutions", "heads", "dropout", "patchSize", "hiddenSize",
        "depth", "mlpRatio", "testCount", "text", "captionDropout", "textLength", "textWidth", "attributes",
    ]

    /// Decodes a JSON object over the defaults, rejecting unknown keys.
    public static func decode(json data: Data, source: String) throws(ConfigError) -> ImageTrainingConfig {
        try decodeStrictConfig(ImageTrainingConfig.self, defaults: ImageTrainingConfig(), keys: keys, json: data, source: source)
    }

    /// Sorted-key JSON.
    public var json: String {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return String(decoding: try! e.encode(self), as: UTF8.self)
    }

    public var isClassifier: Bool { model == "classifier" }
    public var resolvedHeads: Int { heads ?? (model == "dit" ? 4 : 1) }

    /// Checks every field that does not need the data; `validate(for:)` adds the checks against its shape.
    public func validate() throws(ConfigError) {
        guard ImageDataSource.isKnown(data) else { throw ImageDataSource.unknownNameError(data) }
        guard Self.models.contains(model) else { throw ConfigError("unknown model '\(model)'; choose one of: \(Self.models.joined(separator: ", "))") }
        try validateDiffusionSettings { () throws(ConfigError) in
            if let imageSize { try checkRange("imageSize", imageSize, 4...256) }
            guard [1, 3].contains(imageChannels) else { throw ConfigError("imageChannels must be 1 or 3, got \(imageChannels)") }
            try checkRange("channels", channels, 8...1024)
            if channels % 8 != 0 { throw ConfigError("channels must be a multiple of 8 (GroupNorm with 8 groups), got \(channels)") }
            guard (1...5).contains(channelMultipliers.count), channelMultipliers.allSatisfy({ (1...16).contains($0) }) else {
                throw ConfigError("channelMultipliers needs 1…5 levels, each 1…16, got \(channelMultipliers)")
            }
            try checkRange("resBlocks", resBlocks, 1...8)
            try checkRange("heads", resolvedHeads, 1...64)
            try checkRange("dropout", dropout, 0...0.9)
            try checkRange("patchSize", patchSize, 1...16)
            try checkRange("hiddenSize", hiddenSize, 4...2048)
            try checkRange("depth", depth, 1...64)
            try checkRange("mlpRatio", mlpRatio, 1...16)
            try checkRange("testCount", testCount, 0...1_000_000)
            if model == "dit" && (hiddenSize % resolvedHeads != 0 || hiddenSize % 4 != 0) {
                throw ConfigError("hiddenSize must be divisible by 4 and by the heads (\(resolvedHeads)), got \(hiddenSize)")
            }
            if model == "unet" && channelMultipliers.contains(where: { (channels * $0) % resolvedHeads != 0 }) {
                throw ConfigError("the UNet's widths must be divisible by the heads (\(resolvedHeads))")
            }
            if isClassifier && conditional { throw ConfigError("a classifier is not a conditional diffusion model; drop conditional") }
            let (text, attributes) = (isTextConditional, isAttributeClassifier)
            if text && model != "unet" { throw ConfigError("text conditioning needs model 'unet', got '\(model)'") }
            if text && conditional { throw ConfigError("a model is conditioned on text or on classes, not both; drop conditional or text") }
            if attributes && !isClassifier { throw ConfigError("attributes applies to a classifier, not to model '\(model)'") }
            if (text || attributes) && data != "shapes" { throw ConfigError("text and attributes need the captioned data set 'shapes', got '\(data)'") }
            try checkRange("captionDropout", resolvedCaptionDropout, 0...1)
            try checkRange("textLength", resolvedTextLength, 1...256)
            try checkRange("textWidth", resolvedTextWidth, 8...1024)
            if resolvedTextWidth % 2 != 0 { throw ConfigError("textWidth must be even (two heads in the text encoder), got \(resolvedTextWidth)") }
        }
    }

    /// Checks the fields against the data's shape (image size, classes).
    public func validate(for shape: ImageDataShape) throws(ConfigError) {
        try validate()
        let levels = channelMultipliers.count
        if conditional && shape.classCount < 2 { throw ConfigError("data set '\(data)' has \(shape.classCount) class; a conditional model needs labels of at least 2") }
        switch model {
        case "unet":
            if shape.size % (1 << (levels - 1)) != 0 {
                throw ConfigError("image size \(shape.size) does not halve \(levels - 1) times (channelMultipliers has \(levels) levels)")
            }
            let sizes = (0..<levels).map { shape.size >> $0 }
            if let bad = attentionResolutions.first(where: { !sizes.contains($0) }) {
                throw ConfigError("attentionResolutions: \(bad) is not a feature-map size of this UNet (\(sizes.map(String.init).joined(separator: ", ")))")
            }
        case "dit":
            if shape.size % patchSize != 0 { throw ConfigError("patchSize \(patchSize) does not divide the image size \(shape.size)") }
        default:
            if shape.classCount < 2 && !isAttributeClassifier { throw ConfigError("data set '\(data)' has \(shape.classCount) class; a classifier needs at least 2") }
        }
    }

    /// Loads the data named by `data` (resized to `imageSize`) and its shape, checked against this config.
    public func loadData() throws(ConfigError) -> (set: ImageDataset, shape: ImageDataShape) {
        try validate()
        let set = try ImageDataSource.load(data, channels: imageChannels, size: imageSize)
        let shape = try ImageDataShape(set)
        try validate(for: shape)
        return (set, shape)
    }

    // MARK: Building

    public func unetConfig(_ shape: ImageDataShape) -> UNetConfig {
        UNetConfig(imageSize: shape.size, inChannels: shape.channels, outChannels: shape.channels, channels: channels,
                   channelMultipliers: channelMultipliers, resBlocksPerLevel: resBlocks, attentionResolutions: attentionResolutions,
                   heads: resolvedHeads, dropout: Float(dropout), classCount: conditional ? shape.classCount : 0,
                   contextDim: isTextConditional ? resolvedTextWidth : nil)
    }

    public func ditConfig(_ shape: ImageDataShape) -> DiTConfig {
        DiTConfig(imageSize: shape.size, inChannels: shape.channels, outChannels: shape.channels, patchSize: patchSize, hiddenSize: hiddenSize,
                  depth: depth, heads: resolvedHeads, mlpRatio: mlpRatio, classCount: conditional ? shape.classCount : 0)
    }

    public func classifierConfig(_ shape: ImageDataShape) -> ClassifierConfig {
        ClassifierConfig(inChannels: shape.channels, classCount: isAttributeClassifier ? ShapeAttributes.counts.reduce(0, +) : shape.classCount, channels: channels, channelMultipliers: channelMultipliers,
                         dropout: Float(dropout), coordinates: isAttributeClassifier)
    }

    /// A freshly initialised diffusion model (parameters from `seed`) for data of this shape.
    public func makeModel(_ shape: ImageDataShape) throws(ConfigError) -> NetworkModel<ImageNetwork> {
        try validate(for: shape)
        guard !isClassifier else { throw ConfigError("model 'classifier' is not a diffusion model") }
        let net = withParameterSeed(seed) {
            model == "dit" ? ImageNetwork(DiT(ditConfig(shape)))
                : isTextConditional ? ImageNetwork(TextToImageUNet(unet: unetConfig(shape), textLength: resolvedTextLength)) : ImageNetwork(UNet(unetConfig(shape)))
        }
        do {
            return try NetworkModel(net, process: noiseProcess, output: resolvedPrediction, preconditioning: preconditioning(sigmaData: 0.5))
        } catch { throw ConfigError(error.description) }
    }

    /// A freshly initialised classifier (parameters from `seed`).
    public func makeClassifier(_ shape: ImageDataShape) throws(ConfigError) -> Classifier {
        try validate(for: shape)
        guard isClassifier else { throw ConfigError("model '\(model)' is not a classifier") }
        return withParameterSeed(seed) { Classifier(classifierConfig(shape)) }
    }
}
