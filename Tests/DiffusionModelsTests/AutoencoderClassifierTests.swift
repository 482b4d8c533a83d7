import Foundation
import Testing
import Diffusion
@testable import DiffusionModels

@Test func autoencoderShapesGradientsAndCount() {
    for cfg in [AutoencoderConfig(), AutoencoderConfig(inChannels: 3, latentChannels: 4, channels: 8, channelMultipliers: [1, 2, 2], groups: 4)] {
        let vae = withParameterSeed(1) { Autoencoder(cfg) }
        let x = Tensor.randomNormal([2, cfg.inChannels, 16, 16], seed: 2)
        let q = vae.encode(x)
        let side = 16 / cfg.downsamplingFactor
        #expect(q.mean.shape == [2, cfg.latentChannels, side, side] && q.logVariance.shape == q.mean.shape)
        #expect(vae.decode(q.mean).shape == x.shape)
        var g = RandomGenerator(seed: 3)
        let (total, reconstruction, kl) = vae.loss(x, klWeight: 0.5, generator: &g)
        #expect(Swift.abs(total.item - (reconstruction.item + 0.5 * kl.item)) < 1e-3 * Swift.abs(total.item))
        let zero = expectGradientsReachEveryParameter(vae, total)
        #expect(zero.isEmpty, "zero gradients: \(zero)")
    }
    // Default: 1 → 32 → 64 channels, one downsampling, latent 2 channels.
    func res(_ i: Int, _ o: Int) -> Int { 2 * i + conv(i, o, 3) + 2 * o + conv(o, o, 3) + (i == o ? 0 : conv(i, o, 1)) }
    let encoder = conv(1, 32, 3) + res(32, 32) + conv(32, 32, 3) + res(32, 64) + res(64, 64) + 2 * 64 + conv(64, 4, 3)
    let decoder = conv(2, 64, 3) + res(64, 64) + res(64, 64) + conv(64, 64, 3) + res(64, 32) + 2 * 32 + conv(32, 1, 3)
    #expect(Autoencoder().parameterCount == encoder + decoder)
}

@Test func diagonalGaussianKLAndReparametrisation() {
    let q = DiagonalGaussian(mean: Tensor([0, 1, 0, 2], shape: [2, 2]), logVariance: Tensor([0, 0, Float(Foundation.log(4.0)), 0], shape: [2, 2]))
    // ½(μ² + σ² − 1 − ln σ²): row 0: 0 + ½; row 1: ½(4 − 1 − ln 4) + ½·4.
    let kl = q.kl().scalars
    #expect(Swift.abs(kl[0] - 0.5) < 1e-6 && Swift.abs(kl[1] - Float(0.5 * (3 - Foundation.log(4.0)) + 2)) < 1e-5)
    #expect(DiagonalGaussian(mean: .zeros([1]), logVariance: Tensor([100])).logVariance.item == 20)
    // Samples have the posterior's mean and spread; gradients reach the mean and the log-variance.
    let mean = Tensor.full([20_000], 1.5).requiringGrad(), logVar = Tensor.full([20_000], Float(Foundation.log(0.25))).requiringGrad()
    var g = RandomGenerator(seed: 4)
    let z = DiagonalGaussian(mean: mean, logVariance: logVar).sample(&g)
    let v = z.scalars.map(Double.init)
    let m = v.reduce(0, +) / Double(v.count), s = (v.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(v.count)).squareRoot()
    #expect(Swift.abs(m - 1.5) < 0.01 && Swift.abs(s - 0.5) < 0.01)
    z.sum().backward()
    #expect(mean.grad!.scalars.allSatisfy { $0 == 1 })
    // ∂z/∂(ln σ²) = ½σε.
    let eps = (z.detached() - 1.5) / 0.5
    let want = (eps * 0.25).scalars
    #expect(zip(logVar.grad!.scalars, want).allSatisfy { Swift.abs($0 - $1) < 1e-5 })
}

@Test func classifierShapesGradientsAndGuidanceGradient() {
    let plain = withParameterSeed(1) { Classifier(ClassifierConfig(channels: 8, groups: 4)) }
    let x = Tensor.randomNormal([3, 1, 16, 16], seed: 1)
    #expect(plain(x).shape == [3, 10] && plain.features(x).shape == [3, 16] && plain.featureCount == 16)
    #expect(expectGradientsReachEveryParameter(plain, plain(x)).isEmpty)
    let timed = withParameterSeed(1) { Classifier(ClassifierConfig(inChannels: 3, classCount: 6, channels: 8, channelMultipliers: [1, 2, 2], noiseConditional: true, dropout: 0.1, groups: 4)) }
    let xr = Tensor.randomNormal([2, 3, 16, 16], seed: 2)
    let logits = timed(xr, Tensor([10, 900]))
    #expect(logits.shape == [2, 6])
    #expect(expectGradientsReachEveryParameter(timed, logits).isEmpty)
    // ∇ₓ log p(y | x_t), the classifier-guidance direction.
    timed.eval()
    let xg = xr.requiringGrad()
    timed.logProbability(of: Tensor([1, 5]), xg, Tensor([10, 900])).sum().backward()
    #expect(xg.grad!.shape == xr.shape && xg.grad!.scalars.contains { $0 != 0 })
    let lp = timed.logProbability(of: Tensor([1, 5]), xr, Tensor([10, 900])).scalars
    let ls = timed(xr, Tensor([10, 900])).logSoftmax(axis: 1)
    #expect(Swift.abs(lp[0] - ls[0, 1]) < 1e-6 && Swift.abs(lp[1] - ls[1, 5]) < 1e-6)
    // Parameter count: 1 → 8 → 16 channels.
    func res(_ i: Int, _ o: Int) -> Int { 2 * i + conv(i, o, 3) + 2 * o + conv(o, o, 3) + (i == o ? 0 : conv(i, o, 1)) }
    #expect(plain.parameterCount == conv(1, 8, 3) + res(8, 8) + conv(8, 8, 3) + res(8, 16) + 2 * 16 + linear(16, 10))
}

@Test func crossEntropyAccuracyAndLabelDropping() {
    let logits = Tensor(rows: [[2, 0, 0], [0, 0, 3], [1, 1, 0]])
    let labels = Tensor([0, 1, 1])
    let lse = { (r: [Double]) in Foundation.log(r.map(Foundation.exp).reduce(0, +)) }
    let want = ((lse([2, 0, 0]) - 2) + (lse([0, 0, 3]) - 0) + (lse([1, 1, 0]) - 1)) / 3
    #expect(Swift.abs(Double(crossEntropy(logits: logits, labels: labels).item) - want) < 1e-6)
    // Row 2 ties: argmax takes the first maximum (class 0), so 1 of 3 is right.
    #expect(ClassifierEvaluation.accuracy(logits: logits, labels: labels) == 1.0 / 3)
    var g = RandomGenerator(seed: 1)
    let dropped = dropLabels(Tensor.full([10_000], 2), probability: 0.1, classCount: 5, generator: &g).scalars
    #expect(Set(dropped) == [2, 5] && Swift.abs(Double(dropped.filter { $0 == 5 }.count) / 10_000 - 0.1) < 0.01)
    #expect(ClassConditioning.labelsOrNull(nil, count: 2, classCount: 7).scalars == [7, 7])
}

@Test func aSmallClassifierLearnsTheDigitsItSees() {
    // 256 synthetic 8×8 "digits": class k lights row k % 8 (0–7) or column 0/7 (8, 9); 40 AdamW steps.
    var g = RandomGenerator(seed: 2)
    let labels = g.integers([256], in: 0..<10)
    var pixels = [Float](repeating: -1, count: 256 * 64)
    for (i, y) in labels.scalars.enumerated() {
        let k = Int(y)
        for j in 0..<8 { pixels[i * 64 + (k < 8 ? k * 8 + j : j * 8 + (k == 8 ? 0 : 7))] = 1 }
    }
    let images = Tensor(pixels, shape: [256, 1, 8, 8]) + g.normal([256, 1, 8, 8], std: 0.3)
    let net = withParameterSeed(3) { Classifier(ClassifierConfig(channels: 8, channelMultipliers: [1, 2], groups: 4)) }
    let opt = AdamW(net.parameters(), lr: 1e-2)
    let before = ClassifierEvaluation.accuracy(net, images: images, labels: labels)
    for step in 0..<40 {
        let idx = Array((step * 64 % 256)..<(step * 64 % 256 + 64))
        let loss = crossEntropy(logits: net(images.indexSelect(axis: 0, indices: idx)), labels: labels.indexSelect(axis: 0, indices: idx))
        opt.zeroGrad()
        loss.backward()
        opt.step()
    }
    let after = ClassifierEvaluation.accuracy(net, images: images, labels: labels, batchSize: 100)
    #expect(after > 0.9 && after > before, "accuracy \(before) → \(after)")
    #expect(net.isTraining)
    #expect(ClassifierEvaluation.features(net, images: images, batchSize: 100).shape == [256, 16])
}
