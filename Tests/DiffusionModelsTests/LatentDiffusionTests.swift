import Diffusion
import DiffusionData
import Foundation
import Testing
import TestSupport
@testable import DiffusionModels

/// A small autoencoder for 8×8 digits: width 8, one down-sampling (latents 2 × 4 × 4).
func tinyAutoencoderConfig(steps: Int = 40, klWeight: Double = 1e-3, seed: UInt64 = 0) -> AutoencoderTrainingConfig {
    AutoencoderTrainingConfig(autoencoder: AutoencoderConfig(latentChannels: 2, channels: 8, channelMultipliers: [1, 2], groups: 4),
                              klWeight: klWeight, steps: steps, batchSize: 32, learningRate: 3e-3, seed: seed)
}

@Suite("Latent diffusion: the KL, the autoencoder trainer, the latent scaling, the pipeline")
struct LatentDiffusionTests {
    @Test func diagonalGaussianKLMatchesTheClosedFormAndAMonteCarloEstimate() {
        // Closed form in Double: ½ Σ (μ² + σ² − 1 − ln σ²).
        var g = RandomGenerator(seed: 7)
        let mean = g.normal([3, 5]), logVariance = g.normal([3, 5]) * 0.8
        let kl = DiagonalGaussian(mean: mean, logVariance: logVariance).kl().scalars
        let (m, lv) = (mean.scalars.map(Double.init), logVariance.scalars.map(Double.init))
        for r in 0..<3 {
            let want = (0..<5).map { j -> Double in let i = r * 5 + j; return 0.5 * (m[i] * m[i] + exp(lv[i]) - 1 - lv[i]) }.reduce(0, +)
            #expect(Swift.abs(Double(kl[r]) - want) < 1e-5 * Swift.max(1, want), "row \(r): \(kl[r]) vs \(want)")
        }
        // E_q[log q(z) − log p(z)] by sampling the posterior of row 0 (200,000 draws): within 4 standard errors.
        let q = DiagonalGaussian(mean: mean.slice(axis: 0, 0, 1).expanded(to: [200_000, 5]), logVariance: logVariance.slice(axis: 0, 0, 1).expanded(to: [200_000, 5]))
        var h = RandomGenerator(seed: 8)
        let z = q.sample(&h).scalars.map(Double.init)
        var values: [Double] = []
        for k in 0..<200_000 {
            var l = 0.0
            for j in 0..<5 {
                let mu: Double = m[j], v: Double = exp(lv[j]), x: Double = z[k * 5 + j]
                let logQ: Double = -0.5 * (x - mu) * (x - mu) / v - 0.5 * Foundation.log(v)
                l += logQ + 0.5 * x * x
            }
            values.append(l)
        }
        let mc = values.reduce(0, +) / 200_000
        let se = (values.map { ($0 - mc) * ($0 - mc) }.reduce(0, +) / 199_999 / 200_000).squareRoot()
        #expect(Swift.abs(mc - Double(kl[0])) < 4 * se, "Monte Carlo \(mc) ± \(se) vs \(kl[0])")
    }

    @Test("encode/decode shapes for down-sampling factors 1, 2, 4", arguments: [[1], [1, 2], [1, 2, 2]])
    func encodeDecodeShapes(_ multipliers: [Int]) {
        let cfg = AutoencoderConfig(inChannels: 3, latentChannels: 3, channels: 8, channelMultipliers: multipliers, groups: 4)
        let vae = withParameterSeed(1) { Autoencoder(cfg) }
        let x = Tensor.randomNormal([5, 3, 16, 16], seed: 2)
        let latent = LatentDiffusion(autoencoder: vae, scaling: LatentScaling(factor: 0.5))
        let z = latent.encode(x)
        let side = 16 / cfg.downsamplingFactor
        #expect(cfg.downsamplingFactor == 1 << (multipliers.count - 1))
        #expect(z.shape == [5, 3, side, side] && latent.decode(z).shape == x.shape)
        // The scaled latent is factor × the posterior sample; decode divides by it again.
        let raw = LatentDiffusion.latents(vae, images: x, sample: true, seed: 0)
        #expect(zip(z.scalars, raw.scalars).allSatisfy { Swift.abs($0 - 0.5 * $1) < 1e-6 })
        let direct = withNoGrad { vae.decode(raw) }
        #expect(zip(latent.decode(z).scalars, direct.scalars).allSatisfy { Swift.abs($0 - $1) < 1e-5 })
        // Image i's posterior noise depends only on (seed, i): batching does not change the latents.
        let batched = LatentDiffusion.latents(vae, images: x, sample: true, seed: 0, batchSize: 2)
        #expect(batched.scalars == raw.scalars)
        #expect(LatentDiffusion.latents(vae, images: x, sample: false, seed: 0).scalars == withNoGrad { vae.encode(x).mean }.scalars)
    }

    @Test func trainingReducesTheReconstructionErrorAndResumesBitIdentically() throws {
        let data = try Digits.load(size: 8).subset(Array(0..<256))
        let trainer = try AutoencoderTrainer(tinyAutoencoderConfig(steps: 60), data: data)
        let before = trainer.autoencoder.reconstructionError(data.images)
        var reported: [Int] = []
        trainer.train(onStep: { step, loss in reported.append(step); #expect(loss.isFinite) })
        let after = trainer.autoencoder.reconstructionError(data.images)
        #expect(reported == Array(1...60))
        #expect(after < 0.5 * before, "reconstruction MSE per pixel \(before) → \(after)")
        #expect(trainer.lastReconstruction.isFinite && trainer.lastKL > 0)
        // Resume: 3 + 3 steps equal 6 straight, bit for bit.
        let dir = TemporaryFolder.make("autoencoder-resume")
        let straight = try AutoencoderTrainer(tinyAutoencoderConfig(steps: 6), data: data)
        straight.train()
        let first = try AutoencoderTrainer(tinyAutoencoderConfig(steps: 6), data: data)
        first.train(shouldStop: { first.step == 3 })
        let url = dir.appendingPathComponent("ae.safetensors")
        try first.save(to: url)
        let second = try AutoencoderTrainer(tinyAutoencoderConfig(steps: 6), data: data)
        try second.resume(from: url)
        second.train()
        #expect(zip(straight.autoencoder.namedParameters(), second.autoencoder.namedParameters()).allSatisfy { $0.1.value.scalars == $1.1.value.scalars })
    }

    @Test func badConfigsAreRejectedWithAClearMessage() throws {
        let data = try Digits.load(size: 8).subset(Array(0..<16))
        func message(_ edit: (inout AutoencoderTrainingConfig) -> Void) -> String {
            var c = tinyAutoencoderConfig()
            edit(&c)
            do { _ = try AutoencoderTrainer(c, data: data); return "" } catch { return error.description }
        }
        #expect(message { $0.klWeight = -1 }.contains("klWeight"))
        #expect(message { $0.autoencoder.inChannels = 3 }.contains("3 channels"))
        #expect(message { $0.autoencoder.channelMultipliers = [1, 2, 2, 2, 2] }.contains("down-sampling factor 16"))
        #expect(message { $0.autoencoder.channels = 6 }.contains("GroupNorm"))
        #expect(message { _ in }.isEmpty)
    }

    @Test func measuredScalingGivesUnitStandardDeviation() throws {
        let data = try Digits.load(size: 8).subset(Array(0..<200))
        let vae = withParameterSeed(3) { Autoencoder(tinyAutoencoderConfig().autoencoder) }
        // An independent std (Double, two passes) of posterior samples drawn the documented way.
        let q = withNoGrad { vae.encode(data.images) }
        let (mu, sd) = (q.mean.scalars, q.standardDeviation.scalars)
        let per = mu.count / 200
        var z: [Double] = []
        for i in 0..<200 {
            var g = RandomGenerator(seed: 11, stream: UInt64(i))
            let e = g.normal([1, per]).scalars
            for j in 0..<per { z.append(Double(mu[i * per + j]) + Double(sd[i * per + j]) * Double(e[j])) }
        }
        let mean = z.reduce(0, +) / Double(z.count)
        let std = (z.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(z.count)).squareRoot()
        let scaling = LatentScaling.measure(vae, images: data.images, seed: 11, batchSize: 64)
        #expect(Swift.abs(scaling.factor * std - 1) < 1e-4, "factor \(scaling.factor), std \(std)")
        let scaled = LatentDiffusion(autoencoder: vae, scaling: scaling).encode(data.images, seed: 11).scalars.map(Double.init)
        let m2: Double = scaled.reduce(0, +) / Double(scaled.count)
        let v2: Double = scaled.map { ($0 - m2) * ($0 - m2) }.reduce(0, +) / Double(scaled.count)
        #expect(Swift.abs(v2.squareRoot() - 1) < 1e-4)
        #expect(Swift.abs(LatentScaling(factor: 0.18215).logSNRShift - 2 * Foundation.log(0.18215)) < 1e-15)
    }

    @Test func aLatentPipelineRunIsDeterministicUnderASeed() throws {
        let data = try Digits.load(size: 8).subset(Array(0..<128))
        func run(seed: UInt64) throws -> (Tensor, Tensor, ImageDataShape) {
            let ae = try AutoencoderTrainer(tinyAutoencoderConfig(steps: 8, seed: seed), data: data)
            ae.train()
            let latent = LatentDiffusion(autoencoder: ae.autoencoder, scaling: LatentScaling.measure(ae.autoencoder, images: data.images, seed: seed))
            var c = tinyImageConfig(steps: 6)
            c.seed = seed
            let trainer = try latent.trainer(c, data: data)
            trainer.train()
            var o = SamplingOptions()
            (o.sampler, o.steps, o.count, o.seed) = ("ddim", 5, 6, seed)
            let out = try latent.sample(trainer.samplingModel(), sampler: ImageSampler(o), config: c, latentShape: trainer.shape)
            return (out.images, out.latents, trainer.shape)
        }
        let (a, za, shape) = try run(seed: 4)
        let (b, zb, _) = try run(seed: 4)
        let (c, _, _) = try run(seed: 5)
        #expect(shape == ImageDataShape(channels: 2, size: 4, classNames: (0...9).map(String.init)))
        #expect(a.shape == [6, 1, 8, 8] && za.shape == [6, 2, 4, 4])
        #expect(a.scalars == b.scalars && za.scalars == zb.scalars && a.scalars.allSatisfy(\.isFinite))
        #expect(a.scalars != c.scalars)
    }
}
