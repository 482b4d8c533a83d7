import Foundation
import Testing
@testable import Diffusion
import DiffusionLayers

/// A 2-D Gaussian N(μ, Σ) with full covariance: its exact denoiser μ + Σ(Σ + σ²I)⁻¹(x − μ), written out.
struct CorrelatedGaussian: Denoiser {
    let mu: [Double], cov: [[Double]]
    func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        precondition(level.alpha == 1)
        let s2 = level.sigma * level.sigma
        let (a, b, d) = (cov[0][0] + s2, cov[0][1], cov[1][1] + s2)
        let det = a * d - b * b
        let inv = [[d / det, -b / det], [-b / det, a / det]]
        var k = [[0.0, 0], [0, 0]]          // Σ(Σ + σ²I)⁻¹
        for i in 0..<2 { for j in 0..<2 { k[i][j] = cov[i][0] * inv[0][j] + cov[i][1] * inv[1][j] } }
        let xs = x.scalars.map(Double.init)
        var out = [Float](repeating: 0, count: xs.count)
        for p in 0..<(xs.count / 2) {
            let r = [xs[2 * p] - mu[0], xs[2 * p + 1] - mu[1]]
            for i in 0..<2 { out[2 * p + i] = Float(mu[i] + k[i][0] * r[0] + k[i][1] * r[1]) }
        }
        return Tensor(out, shape: x.shape)
    }
}

@Suite("Applications: SDEdit, DDIM inversion, RePaint, score distillation, toy adapters")
struct ApplicationsTests {
    static let mixture = GaussianMixture.example2D
    static func column(_ t: Tensor, _ j: Int) -> [Double] { let s = t.scalars; return stride(from: j, to: s.count, by: t.shape[1]).map { Double(s[$0]) } }
    static func meanStd(_ v: [Double]) -> (Double, Double) {
        let m = v.reduce(0, +) / Double(v.count)
        return (m, (v.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(v.count - 1)).squareRoot())
    }

    @Test("DDIM inversion converges to the exact probability-flow map with order 1")
    func inversionMatchesTheODE() {
        let x = Self.mixture.sample(64, seed: 2)
        let (lo, hi) = (0.05, 20.0)
        let exact = Self.mixture.probabilityFlow(x, from: lo, to: hi, steps: 2000)
        let Ns = [16, 32, 64, 128]
        let errors = Ns.map { N -> Double in
            let up = Array(Schedule.exponential(steps: N + 1, sigmaMin: lo, sigmaMax: hi).dropLast().reversed())
            #expect(up.count == N + 1 && up.first! == lo && up.last! == hi)
            return rms(Editing.ddimInversion(Self.mixture, x, sigmas: up), exact)
        }
        #expect(zip(errors, errors.dropFirst()).allSatisfy { $0 > $1 }, "\(errors)")
        let slope = logLogSlope(Ns.map(Double.init), errors)
        #expect(slope < -0.8 && slope > -1.3, "order-1 inversion: slope \(slope), errors \(errors)")
        #expect(errors.last! / hi < 0.02, "relative to the endpoint's scale σ = \(hi): \(errors)")
    }

    @Test("Fixed-point DDIM inversion is the exact inverse of the DDIM step: round trip to Float32 tolerance")
    func fixedPointInversionRoundTrips() {
        let x = Self.mixture.sample(64, seed: 3)
        let down = Array(Schedule.exponential(steps: 24, sigmaMin: 0.05, sigmaMax: 20).dropLast())
        let up = Array(down.reversed())
        let naive = rms(Sampling.ddim(Self.mixture, Editing.ddimInversion(Self.mixture, x, sigmas: up), sigmas: down), x)
        let exact = rms(Sampling.ddim(Self.mixture, Editing.ddimInversion(Self.mixture, x, sigmas: up, fixedPointIterations: 40), sigmas: down), x)
        #expect(naive > 0.01, "the plain inversion does not round-trip: \(naive)")
        #expect(exact < 1e-4, "fixed-point inversion round trip \(exact) (plain \(naive))")
    }

    @Test("SDEdit on a 1-D Gaussian matches the closed form μ + s(g + σ₀z − μ)/√(s² + σ₀²)")
    func sdeditClosedForm() {
        let (mu, s) = (0.7, 0.4)
        let g = GaussianMixture(weights: [1], means: [[mu]], std: [s])
        let n = 4000
        for σ0 in [0.2, 1.0, 5.0] {
            let guide = Tensor.full([n, 1], -1.3)
            let out = Editing.sdedit(g, guide: guide, sigmas: Schedule.karras(steps: 128, sigmaMin: 0.002, sigmaMax: σ0),
                                     noise: NoiseSource(seed: 7), sampler: Sampler.named("heun")!)
            let z = NoiseSource(seed: 7).prior([n, 1]).scalars
            let c = s / (s * s + σ0 * σ0).squareRoot()
            let want = z.map { Float(mu + c * (-1.3 + σ0 * Double($0) - mu)) }
            let worst = zip(out.scalars, want).map { Swift.abs(Double($0) - Double($1)) }.max()!
            #expect(worst < 2e-3, "σ₀ = \(σ0): max deviation \(worst)")
        }
    }

    static let gauss = CorrelatedGaussian(mu: [0.5, -0.3], cov: [[1, 0.8], [0.8, 1]])

    @Test("RePaint's resampling removes the replacement bias of the mean; its variance deficit shrinks with the step count")
    func repaintGaussian() {
        let n = 4000, y = 1.5
        // Exact: x₂ | x₁ = y ~ N(μ₂ + ρ(y − μ₁), 1 − ρ²) = N(0.5, 0.36).
        let (wantMean, wantStd) = (-0.3 + 0.8 * (y - 0.5), (1 - 0.64).squareRoot())
        let known = Tensor((0..<n).flatMap { _ in [Float(y), 0] }, shape: [n, 2])
        let mask = Tensor([1, 0])
        func stats(_ U: Int, _ N: Int) -> (Double, Double) {
            let out = Inpainting.repaint(Self.gauss, known: known, mask: mask, sigmas: Schedule.karras(steps: N, sigmaMin: 0.01, sigmaMax: 40),
                                         noise: NoiseSource(seed: 21), resampling: U)
            #expect(Self.column(out, 0).allSatisfy { $0 == y }, "the known coordinate is the observation at σ = 0")
            return Self.meanStd(Self.column(out, 1))
        }
        // Standard errors at n = 4000: 0.0095 for the mean, 0.0067 for the std. RePaint is not exact: an independent
        // NumPy simulation of the same chain (20 000 samples) gives mean 0.17 (U = 1), 0.48 (U = 20) at N = 50, and std
        // 0.52 (N = 30) → 0.58 (N = 100) at U = 10; the tolerances below are those biases plus four standard errors.
        let (m1, _) = stats(1, 50), (m20, s20) = stats(20, 50)
        #expect(wantMean - m1 > 0.25, "replacement is biased towards the prior mean: \(m1) vs \(wantMean)")
        #expect(Swift.abs(m20 - wantMean) < 0.06 && Swift.abs(s20 - wantStd) < 0.09, "U = 20: \(m20), \(s20) vs \(wantMean), \(wantStd)")
        let (_, coarse) = stats(10, 30), (_, fine) = stats(10, 100)
        #expect(coarse < fine && fine < wantStd && wantStd - fine < 0.05, "std deficit: \(coarse) (N = 30), \(fine) (N = 100)")
    }

    @Test("The exact conditional of a mixture is Bayes' rule on the joint density")
    func mixtureConditional() {
        let m = Self.mixture
        let c = m.conditioned(on: [0], values: [1.2])
        #expect(c.dimension == 1)
        let level = NoiseLevel(alpha: 1, sigma: 0)
        let us: [Float] = [-2, -0.5, 0.3, 1.9]
        let joint = m.logDensity(Tensor(us.flatMap { [1.2, $0] }, shape: [4, 2]), at: NoiseLevel(alpha: 1, sigma: 1e-9))
        let cond = c.logDensity(Tensor(us, shape: [4, 1]), at: level)
        for i in 1..<4 { #expect(Swift.abs((joint[i] - joint[0]) - (cond[i] - cond[0])) < 1e-6) }
    }

    @Test("The SDS gradient is ε̂(x + σε) − ε exactly; descent on it seeks the mode")
    func scoreDistillation() {
        let (mu, s, σ) = (0.7, 0.4, 0.8)
        let g = GaussianMixture(weights: [1], means: [[mu]], std: [s])
        let x = Tensor([-1, 0.2, 2.5], shape: [3, 1]), ε = Tensor([0.3, -1.1, 0.6], shape: [3, 1])
        let grad = ScoreDistillation.gradient(g, x, at: NoiseLevel(alpha: 1, sigma: σ), noise: ε, weight: 2).scalars
        for i in 0..<3 {
            let xt = Double(x.scalars[i]) + σ * Double(ε.scalars[i])
            let want = 2 * (σ * (xt - mu) / (s * s + σ * σ) - Double(ε.scalars[i]))
            #expect(Swift.abs(Double(grad[i]) - want) < 1e-5)
        }
        // Particles θ, rendering x = θ: SDS descent with σ ~ U(0.05, 1) collapses onto the mode μ.
        let theta = Parameter(Tensor((0..<16).map { Float($0) / 4 - 2 }, shape: [16, 1]))
        let opt = SGD([theta], lr: 0.05)
        var rng = RandomGenerator(seed: 8)
        for _ in 0..<600 {
            let σt = Double(rng.uniform([1]).scalars[0]) * 0.95 + 0.05
            let gθ = ScoreDistillation.gradient(g, theta.value, at: NoiseLevel(alpha: 1, sigma: σt), noise: rng.normal([16, 1]))
            opt.zeroGrad()
            ScoreDistillation.surrogate(theta.value, gradient: gθ).backward()
            opt.step()
        }
        let (m, sd) = Self.meanStd(theta.value.scalars.map(Double.init))
        #expect(Swift.abs(m - mu) < 0.05 && sd < 0.1, "SDS particles: mean \(m), spread \(sd) (data std \(s))")
    }

    @Test("LoRAToyMLP equals its base at B = 0, trains only A and B, and merged equals unmerged")
    func loraToy() {
        withParameterSeed(4) {
            let base = ToyMLP(dimension: 2, width: 32, blocks: 2, embeddingDim: 8)
            let x = Self.mixture.sample(10, seed: 1), c = Tensor((0..<10).map { Float($0) * 50 })
            let y0 = base(x, c).scalars
            let lora = LoRAToyMLP(base, rank: 2)
            #expect(lora(x, c).scalars == y0)
            #expect(lora.trainableParameterCount == 2 * ((3 * 8 + 32) + 2 * (32 + 32) + (32 + 2)))
            for p in lora.trainableParameters() where p.shape[1] == 2 { var r = RandomGenerator(seed: 6); p.value = r.normal(p.shape) * 0.1 }
            let y1 = lora(x, c).scalars
            #expect(y1 != y0)
            let unmerged = lora(x, c)
            lora.merge()
            #expect(rms(lora(x, c), unmerged) < 1e-5)
            lora.unmerge()
            #expect(rms(lora(x, c), unmerged) < 1e-5)
        }
    }

    @Test("ControlledToyMLP equals its base at initialisation, yet its zero layers receive non-zero gradients")
    func controlNetToy() {
        withParameterSeed(5) {
            let base = ToyMLP(dimension: 2, width: 32, blocks: 2, embeddingDim: 8)
            let x = Self.mixture.sample(10, seed: 1), c = Tensor((0..<10).map { Float($0) * 50 })
            let y0 = base(x, c).scalars
            let net = ControlledToyMLP(base, controlDimension: 3)
            net.control = Tensor((0..<30).map { Float($0 % 7) - 3 }, shape: [10, 3])
            #expect(net(x, c).scalars == y0)
            #expect(Set(net.trainableParameters().map(ObjectIdentifier.init)).isDisjoint(with: base.parameters().map(ObjectIdentifier.init)))
            let opt = SGD(net.trainableParameters(), lr: 0.1)
            opt.zeroGrad()
            net(x, c).square().sum().backward()
            func norm(_ l: Linear) -> Float { l.weight.grad.map { $0.square().sum().item } ?? 0 }
            #expect(net.zeroLayers.allSatisfy { norm($0) > 0 }, "∂L/∂Z = (∂L/∂h)·gᵀ ≠ 0")
            #expect(norm(net.controlIn) == 0 && norm(net.copyInp) == 0 && net.copyBlocks.allSatisfy { norm($0) == 0 },
                    "behind the zero layers nothing moves at the first step")
            opt.step()
            opt.zeroGrad()
            net(x, c).square().sum().backward()
            #expect(norm(net.controlIn) > 0 && norm(net.copyInp) > 0, "after one step the copy and Z_c learn too")
        }
    }
}
