import Diffusion
import DiffusionData
import Foundation
import Testing
import TestSupport
@testable import DiffusionModels

/// A tiny text-conditioned UNet config on 8×8 shapes.
func tinyTextConfig(steps: Int = 20) -> ImageTrainingConfig {
    var c = tinyImageConfig("unet", steps: steps)
    (c.data, c.text, c.textLength, c.textWidth, c.attentionResolutions) = ("shapes", true, 12, 16, [8])
    return c
}

func shapes8(_ n: Int = 64) -> ImageDataset { ShapesDataset(seed: 0, size: 8).batch(offset: 0, count: n) }

@Suite("Text to image: tokenizer, prompt attributes, the text-conditioned UNet, caption dropout, attribute classifier")
struct TextToImageTests {
    @Test("strict encoding refuses unknown words (named) and over-long prompts; the empty prompt is all padding")
    func strictEncoding() throws {
        let t = CaptionTokenizer.shapes
        #expect(throws: PromptError.unknownWord("purpel")) { try t.strictEncode("a purpel circle", length: 16) }
        #expect(throws: PromptError.unknownWord("猫")) { try t.strictEncode("红色的猫", length: 16) }
        #expect(PromptError.unknownWord("purpel").description.contains("'purpel'"))
        // 蓝 色 的 大 正 方 形 位 于 右 下: 11 tokens.
        #expect(throws: PromptError.tooLong(tokens: 11, limit: 10)) { try t.strictEncode("蓝色的大正方形，位于右下", length: 10) }
        #expect(try t.strictEncode("", length: 5) == [0, 0, 0, 0, 0])
        // Every training caption is encoded exactly as the lenient encoder does.
        for s in ShapesDataset(seed: 0).samples(offset: 0, count: 100) {
            for text in [s.caption.chinese, s.caption.english] {
                #expect(try t.strictEncode(text, length: 16) == t.encode(text, length: 16))
                #expect(!t.encode(text, length: 16).contains(CaptionTokenizer.unknown))
            }
        }
    }

    @Test("a caption's attributes are read back from its text in both languages; a partial prompt states only what it names")
    func promptAttributes() {
        for s in ShapesDataset(seed: 0).samples(offset: 0, count: 300) {
            #expect(ShapeAttributes(prompt: s.caption.chinese) == ShapeAttributes(s), "\(s.caption.chinese)")
            #expect(ShapeAttributes(prompt: s.caption.english) == ShapeAttributes(s), "\(s.caption.english)")
        }
        #expect(ShapeAttributes(prompt: "红色的圆形") == ShapeAttributes(kind: .circle, colour: .red))
        #expect(ShapeAttributes(prompt: "a ring, top") == ShapeAttributes(kind: .ring, position: .top))
        #expect(ShapeAttributes(prompt: "a small cyan cross, bottom left") == ShapeAttributes(kind: .cross, colour: .cyan, size: .small, position: .bottomLeft))
        #expect(ShapeAttributes(prompt: "") == ShapeAttributes())
    }

    @Test("no text is the empty text; the text changes the output; gradients reach the text encoder")
    func emptyTextIsUnconditional() throws {
        let c = tinyTextConfig()
        let shape = ImageDataShape(channels: 3, size: 8, classNames: ShapesDataset.classNames)
        let model = try c.makeModel(shape)
        let net = try #require(model.network.text)
        perturbParameters(net, seed: 4)
        var g = RandomGenerator(seed: 1)
        let x = g.normal([2, 3, 8, 8]), t = Tensor([100, 700])
        let empty = TextToImageUNet.emptyText(count: 2, length: 12)
        #expect(net(x, t, labels: nil).scalars == net(x, t, labels: empty).scalars)
        let ids = try net.tokens(["红色的大圆形，位于左上", "a small blue ring, bottom right"])
        let conditioned = net(x, t, labels: ids), unconditioned = net(x, t, labels: nil)
        #expect(conditioned.scalars != unconditioned.scalars, "the text did not change the output")
        // Through NetworkModel: guidance scale 0 is the empty text, scale 1 the prompt.
        let level = NoiseLevel(alpha: 0.8, sigma: 0.6)
        let uncond = model.denoise(x, at: level, labels: nil)
        #expect(ClassifierFreeGuidance(model, labels: ids, scale: 0).denoise(x, at: level).scalars == uncond.scalars)
        #expect(ClassifierFreeGuidance(model, labels: ids, scale: 1).denoise(x, at: level).scalars == model.denoise(x, at: level, labels: ids).scalars)
        let zero = expectGradientsReachEveryParameter(net, net(x, t, labels: ids))
        #expect(!zero.contains { $0.hasPrefix("textEncoder.") }, "no gradient: \(zero)")
    }

    @Test("caption dropout blanks whole rows: none at p = 0, all at p = 1, about 10 % at p = 0.1")
    func captionDropout() {
        let ids = Tensor.full([4000, 6], 7)
        var g = RandomGenerator(seed: 3)
        #expect(dropCaptions(ids, probability: 0, generator: &g).scalars == ids.scalars)
        #expect(dropCaptions(ids, probability: 1, generator: &g).scalars.allSatisfy { $0 == 0 })
        let rows = dropCaptions(ids, probability: 0.1, generator: &g).reshaped([4000, 6]).scalars
        let blank = stride(from: 0, to: rows.count, by: 6).map { Array(rows[$0..<($0 + 6)]) }
        #expect(blank.allSatisfy { $0 == [0, 0, 0, 0, 0, 0] || $0 == [7, 7, 7, 7, 7, 7] })
        // Binomial(4000, 0.1): mean 400, standard deviation 19; ±5σ.
        let dropped = blank.filter { $0[0] == 0 }.count
        #expect(abs(dropped - 400) < 95, "\(dropped) of 4000 rows dropped")
    }

    @Test("a text model trains (finite, falling loss) and samples for prompts; bad prompts and misuse are clear errors")
    func trainsAndSamples() throws {
        let trainer = try ImageTrainer(tinyTextConfig(steps: 40), data: shapes8())
        var losses: [Double] = []
        trainer.train(onStep: { _, loss in losses.append(loss) })
        #expect(losses.allSatisfy(\.isFinite) && losses.suffix(5).reduce(0, +) < losses.prefix(5).reduce(0, +))
        var options = SamplingOptions()
        (options.sampler, options.steps, options.count, options.guidanceScale) = ("ddim", 4, 3, 3)
        var sampler = ImageSampler(options)
        sampler.prompts = ["红色的圆形", "a blue square"]
        let out = try sampler.sample(trainer.samplingModel(), config: trainer.config, shape: trainer.shape)
        #expect(out.images.shape == [3, 3, 8, 8] && out.images.scalars.allSatisfy(\.isFinite))
        #expect(try out.labels?.scalars == CaptionTokenizer.shapes.strictEncode(["红色的圆形", "a blue square", "红色的圆形"], length: 12).scalars)
        sampler.prompts = ["a blue squirrel"]
        #expect(throws: ConfigError(PromptError.unknownWord("squirrel").description)) {
            try sampler.sample(trainer.samplingModel(), config: trainer.config, shape: trainer.shape)
        }
        sampler.prompts = []
        sampler.options.label = 1
        #expect(throws: ConfigError("this model is conditioned on text: give a prompt, not a label")) { try sampler.validate(for: trainer.config, shape: trainer.shape) }
        var plain = ImageSampler(SamplingOptions())
        plain.prompts = ["a red circle"]
        #expect(throws: ConfigError("a prompt needs a text-conditioned model; this one was trained without text (text: true)")) {
            try plain.validate(for: tinyImageConfig(), shape: ImageDataShape(channels: 1, size: 8, classNames: (0...9).map(String.init)))
        }
    }

    @Test("configs: text needs a UNet on shapes and excludes classes; old configs without the new keys still decode")
    func configChecks() throws {
        var c = tinyTextConfig()
        c.conditional = true
        #expect(throws: ConfigError("a model is conditioned on text or on classes, not both; drop conditional or text")) { try c.validate() }
        c = tinyTextConfig()
        c.data = "digits8"
        #expect(throws: ConfigError("text and attributes need the captioned data set 'shapes', got 'digits8'")) { try c.validate() }
        let old = try ImageTrainingConfig.decode(json: Data(#"{"data": "digits", "steps": 10}"#.utf8), source: "old.json")
        #expect(!old.isTextConditional && !old.isAttributeClassifier && !old.json.contains("text"))
    }

    @Test("attribute loss at zero logits is ln 6 + ln 6 + ln 2 + ln 9; coordinate planes are pixel centres")
    func attributeLossAndCoordinates() {
        let targets = AttributeClassification.targets([ShapeAttributes(kind: .ring, colour: .red, size: .large, position: .centre)])
        #expect(targets.scalars == [5, 0, 1, 4] && AttributeClassification.offsets == [0, 6, 12, 14] && AttributeClassification.logitCount == 23)
        let loss = AttributeClassification.loss(logits: Tensor.zeros([1, 23]), targets: targets).item
        #expect(abs(Double(loss) - (2 * log(6.0) + log(2.0) + log(9.0))) < 1e-5)
        let planes = CoordinateChannels.planes(like: Tensor.zeros([2, 3, 2, 4]))
        #expect(planes.shape == [2, 2, 2, 4])
        #expect(Array(planes.scalars[0..<16]) == [-0.75, -0.25, 0.25, 0.75, -0.75, -0.25, 0.25, 0.75, -0.5, -0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 0.5])
    }

    @Test("the attribute classifier learns colour on 8×8 shapes; accuracy counts only stated attributes")
    func attributeClassifierLearns() throws {
        var c = tinyImageConfig("classifier", steps: 150)
        (c.data, c.attributes, c.channels, c.channelMultipliers, c.testCount) = ("shapes", true, 16, [1, 2], 64)
        let trainer = try ImageTrainer(c, data: shapes8(320))
        trainer.train()
        let judge = trainer.evaluationClassifier(), test = try #require(trainer.testSet)
        let truth = test.captions!.map { ShapeAttributes(prompt: $0.english) }
        let acc = AttributeClassification.accuracy(judge, images: test.images, attributes: truth)
        #expect(Set(acc.keys) == Set(ShapeAttributes.names))
        #expect(acc["colour"]! > 0.5, "colour accuracy \(acc) (chance 1/6)")
        let colourOnly = AttributeClassification.accuracy(judge, images: test.images, attributes: truth.map { ShapeAttributes(colour: $0.colour) })
        #expect(colourOnly == ["colour": acc["colour"]!])
    }
}
