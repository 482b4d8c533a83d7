import Foundation
import Testing
@testable import DiffusionModels

@Test func ditOutputShapesForSeveralConfigurations() {
    let configs = [
        DiTConfig(),
        DiTConfig(imageSize: 8, patchSize: 4, hiddenSize: 32, depth: 2, heads: 2, classCount: 10, learnedPositions: true),
        DiTConfig(imageSize: 16, inChannels: 3, outChannels: 6, patchSize: 2, hiddenSize: 48, depth: 1, heads: 3, mlpRatio: 2, classCount: 6),
        DiTConfig(imageSize: 8, inChannels: 2, outChannels: 2, patchSize: 1, hiddenSize: 16, depth: 1, heads: 1),
    ]
    for cfg in configs {
        let net = withParameterSeed(1) { DiT(cfg) }
        let x = Tensor.randomNormal([2, cfg.inChannels, cfg.imageSize, cfg.imageSize], seed: 3)
        let y = net(x, Tensor([5, 600]), labels: cfg.classCount > 0 ? Tensor([1, Float(cfg.classCount)]) : nil)
        #expect(y.shape == [2, cfg.outChannels, cfg.imageSize, cfg.imageSize], "\(cfg)")
        // adaLN-Zero: the untrained model outputs exactly zero.
        #expect(y.scalars.allSatisfy { $0 == 0 })
    }
}

@Test func ditBlocksAreTheIdentityAtInitialisation() {
    let net = withParameterSeed(2) { DiT(DiTConfig(hiddenSize: 32, depth: 3, heads: 4, classCount: 4)) }
    var g = RandomGenerator(seed: 4)
    let tokens = net.embed(g.normal([3, 1, 16, 16]))
    let c = net.conditioning(Tensor([1, 50, 900]), labels: Tensor([0, 3, 4]))
    for block in net.blocks {
        #expect(block(tokens, c).scalars == tokens.scalars)
        #expect(block.modulation.weight.value.scalars.allSatisfy { $0 == 0 })
    }
    // After training moves the modulation away from zero, the block is no longer the identity.
    perturbParameters(net.blocks[0], seed: 3)
    #expect(net.blocks[0](tokens, c).scalars != tokens.scalars)
}

@Test func ditPatchifyAndUnpatchifyAreInverse() {
    // With an identity patch embedding (one channel, hidden = p·p) and identity final linear, unpatchify undoes patchify.
    let cfg = DiTConfig(imageSize: 4, patchSize: 2, hiddenSize: 4, depth: 0, heads: 1)
    let net = DiT(cfg)
    let x = Tensor((0..<16).map(Float.init), shape: [1, 1, 4, 4])
    var w = [Float](repeating: 0, count: 16)
    for k in 0..<4 { w[k * 4 + k] = 1 }  // output channel k reads pixel k (row-major) of the 2×2 patch
    net.patchEmbedding.weight.value = Tensor(w, shape: [4, 1, 2, 2])
    net.patchEmbedding.bias!.value = .zeros([4])
    let tokens = net.patchEmbedding(x).flattened(from: 2).transposed(1, 2)
    #expect(tokens.scalars == [0, 1, 4, 5, 2, 3, 6, 7, 8, 9, 12, 13, 10, 11, 14, 15])
    #expect(net.unpatchify(tokens).scalars == x.scalars)
}

@Test func ditGradientsReachEveryParameter() {
    for learned in [false, true] {
        let net = withParameterSeed(3) { DiT(DiTConfig(imageSize: 8, patchSize: 2, hiddenSize: 16, depth: 2, heads: 2, classCount: 3, learnedPositions: learned)) }
        let x = Tensor.randomNormal([4, 1, 8, 8], seed: 5)
        let t = Tensor([1, 10, 100, 999]), y = Tensor([0, 1, 2, 3])
        // At initialisation the gradients exist and are finite (most are zero behind the zero gates).
        expectGradientsReachEveryParameter(net, net(x, t, labels: y))
        perturbParameters(net, seed: 8)
        let zero = expectGradientsReachEveryParameter(net, net(x, t, labels: y))
        #expect(zero.isEmpty, "zero gradients: \(zero)")
        #expect(net.namedParameters().contains { $0.0 == "positions" } == learned)
    }
}

@Test func ditParameterCountForAStatedConfiguration() {
    // DiT with hidden 64, depth 2, patch 2 on 1×16×16 (64 tokens), 10 classes, learned positions.
    let (d, p, c, k, tokens) = (64, 2, 1, 10, 64)
    let block = 4 * linear(d, d) + linear(d, 4 * d) + linear(4 * d, d) + linear(d, 6 * d)
    let expected = conv(c, d, p) + tokens * d + linear(256, d) + linear(d, d) + (k + 1) * d + 2 * block
        + linear(d, 2 * d) + linear(d, p * p * c)
    let net = withParameterSeed(0) { DiT(DiTConfig(hiddenSize: d, depth: 2, heads: 4, classCount: k, learnedPositions: true)) }
    #expect(net.parameterCount == expected && expected == 183_684)
    #expect(withParameterSeed(0) { DiT(DiTConfig(hiddenSize: d, depth: 2, heads: 4, classCount: k)) }.parameterCount == expected - tokens * d)
}

@Test func ditIsDeterministicUnderAParameterSeed() {
    let cfg = DiTConfig(imageSize: 8, hiddenSize: 16, depth: 1, heads: 2, classCount: 2, learnedPositions: true)
    let a = withParameterSeed(4) { DiT(cfg) }, b = withParameterSeed(4) { DiT(cfg) }, c = withParameterSeed(5) { DiT(cfg) }
    #expect(a.stateDict().map { $0.1.scalars } == b.stateDict().map { $0.1.scalars })
    #expect(a.stateDict().map { $0.1.scalars } != c.stateDict().map { $0.1.scalars })
}

@Test func sinusoidalPositionsEncodeRowThenColumn() {
    let pe = sinusoidalPositions2D(gridSize: 3, dim: 8).scalars
    // Token (row 1, column 2): row features sin(1·ω), cos(1·ω) with ω = 1, 1/100; column features with position 2.
    let t = (1 * 3 + 2) * 8
    let want: [Double] = [sin(1), sin(0.01), cos(1), cos(0.01), sin(2), sin(0.02), cos(2), cos(0.02)]
    for i in 0..<8 { #expect(Swift.abs(Double(pe[t + i]) - want[i]) < 1e-6) }
}
