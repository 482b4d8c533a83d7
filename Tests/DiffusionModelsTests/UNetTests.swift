import Foundation
import TestSupport
import Testing
@testable import DiffusionModels

@Test func unetOutputShapesForSeveralConfigurations() {
    let configs = [
        UNetConfig(),                                                                                       // digits 16×16
        UNetConfig(imageSize: 8, channels: 16, channelMultipliers: [1, 2], attentionResolutions: [4], classCount: 10),
        UNetConfig(inChannels: 3, outChannels: 3, channels: 16, channelMultipliers: [1, 2, 2], resBlocksPerLevel: 2,
                   attentionResolutions: [8, 4], heads: 2, dropout: 0.1, classCount: 6, contextDim: 12),
        UNetConfig(inChannels: 3, outChannels: 6, channels: 8, channelMultipliers: [1], attentionResolutions: [], groups: 4),
    ]
    for cfg in configs {
        let net = withParameterSeed(1) { UNet(cfg) }
        var g = RandomGenerator(seed: 2)
        let x = g.normal([3, cfg.inChannels, cfg.imageSize, cfg.imageSize])
        let context = cfg.contextDim.map { g.normal([3, 5, $0]) }
        let y = net(x, Tensor([1, 500, 999]), labels: cfg.classCount > 0 ? Tensor([0, 1, Float(cfg.classCount)]) : nil, context: context)
        #expect(y.shape == [3, cfg.outChannels, cfg.imageSize, cfg.imageSize], "\(cfg)")
        #expect(y.scalars.allSatisfy { $0.isFinite })
    }
}

@Test func unetGradientsReachEveryParameter() {
    let cfg = UNetConfig(inChannels: 3, outChannels: 3, channels: 8, channelMultipliers: [1, 2], resBlocksPerLevel: 1,
                         attentionResolutions: [8], heads: 2, dropout: 0.1, classCount: 3, contextDim: 6, groups: 4)
    let net = withParameterSeed(5) { UNet(cfg) }
    var g = RandomGenerator(seed: 6)
    let out = net(g.normal([4, 3, 16, 16]), Tensor([3, 30, 300, 900]), labels: Tensor([0, 1, 2, 3]), context: g.normal([4, 3, 6]))
    let zero = expectGradientsReachEveryParameter(net, out)
    #expect(zero.isEmpty, "zero gradients: \(zero)")
    #expect(net.namedParameters().contains { $0.0 == "down.1.attentions.0.crossAttention.kProj.weight" })
    #expect(net.namedParameters().contains { $0.0 == "up.1.blocks.1.skip.weight" })
}

@Test func unetParameterCountForAStatedConfiguration() {
    // channels 8, multipliers [1, 2], one block per level, attention at 8×8, 3 classes, RGB: counted layer by layer.
    let cfg = UNetConfig(inChannels: 3, outChannels: 3, channels: 8, channelMultipliers: [1, 2], attentionResolutions: [8], classCount: 3, groups: 4)
    func res(_ i: Int, _ o: Int) -> Int { 2 * i + conv(i, o, 3) + linear(32, o) + 2 * o + conv(o, o, 3) + (i == o ? 0 : conv(i, o, 1)) }
    func attn(_ c: Int) -> Int { 2 * c + 4 * linear(c, c) }
    let embedding = linear(8, 32) + linear(32, 32) + 4 * 32
    let down = conv(3, 8, 3) + res(8, 8) + conv(8, 8, 3) + res(8, 16) + attn(16)
    let middle = 2 * res(16, 16) + attn(16)
    // Up: skips are [8 (input conv), 8 (level 0), 8 (downsample), 16 (level 1)], consumed last first.
    let up = res(32, 16) + attn(16) + res(24, 16) + attn(16) + conv(16, 16, 3) + res(24, 8) + res(16, 8)
    let output = 2 * 8 + conv(8, 3, 3)
    let expected = embedding + down + middle + up + output
    #expect(withParameterSeed(0) { UNet(cfg) }.parameterCount == expected)
    #expect(expected == 45_387)
}

@Test func unetIsDeterministicUnderAParameterSeed() {
    let cfg = UNetConfig(imageSize: 8, channels: 8, channelMultipliers: [1, 2], attentionResolutions: [4], dropout: 0.2, classCount: 10, groups: 4)
    let a = withParameterSeed(7) { UNet(cfg) }, b = withParameterSeed(7) { UNet(cfg) }, c = withParameterSeed(8) { UNet(cfg) }
    #expect(a.stateDict().map { $0.1.scalars } == b.stateDict().map { $0.1.scalars })
    #expect(a.stateDict().map { $0.1.scalars } != c.stateDict().map { $0.1.scalars })
    let x = Tensor.randomNormal([2, 1, 8, 8], seed: 1)
    // Dropout masks come from generators seeded at construction, so training-mode outputs agree too.
    #expect(a(x, Tensor([10, 20]), labels: Tensor([3, 10])).scalars == b(x, Tensor([10, 20]), labels: Tensor([3, 10])).scalars)
    // Without labels the null class is used.
    a.eval()
    #expect(a(x, Tensor([10, 20])).scalars == a(x, Tensor([10, 20]), labels: Tensor([10, 10])).scalars)
}

@Test func unetCheckpointsRoundTripWithTheirConfig() throws {
    let cfg = UNetConfig(imageSize: 8, channels: 8, channelMultipliers: [1, 2], attentionResolutions: [4], classCount: 10, contextDim: 4, groups: 4)
    let a = withParameterSeed(1) { UNet(cfg) }
    let url = TemporaryFolder.make("unet").appendingPathComponent("model.safetensors")
    defer { try? FileManager.default.removeItem(at: url) }
    try a.save(to: url, config: cfg)
    let meta = try withParameterSeed(2) { UNet(cfg) }.load(from: url)
    let restored = try decodeConfig(UNetConfig.self, from: meta)
    #expect(restored == cfg)
    let b = withParameterSeed(2) { UNet(restored) }
    try b.load(from: url)
    let x = Tensor.randomNormal([2, 1, 8, 8], seed: 3), ctx = Tensor.randomNormal([2, 3, 4], seed: 4)
    #expect(a(x, Tensor([1, 2]), labels: Tensor([0, 10]), context: ctx).scalars == b(x, Tensor([1, 2]), labels: Tensor([0, 10]), context: ctx).scalars)
    // The context-free overload (NoiseConditionalNetwork's signature) is the call without a context.
    let plain = withParameterSeed(1) { UNet(UNetConfig(imageSize: 8, channels: 8, attentionResolutions: [4], classCount: 3, groups: 4)) }
    #expect(plain(x, Tensor([5, 6]), labels: nil).scalars == plain(x, Tensor([5, 6]), labels: nil, context: nil).scalars)
}
