import Foundation
import Testing
@testable import Diffusion
import DiffusionLayers

/// Consistency models and progressive distillation against closed forms and the exact flow of a Gaussian mixture.
@Suite("Consistency models and progressive distillation")
struct ConsistencyTests {
    static let mixture = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1, 0], [1, 0.5], [0.2, 1.5]],
                                         stds: [[0.3, 0.25], [0.25, 0.3], [0.3, 0.3]])
    static let data = ToyDataset.mixture(name: "consistency-test", summary: "three bumps", mixture)

    @Test func parametrisationHitsTheBoundaryExactlyAndMatchesItsClosedForm() {
        let p = ConsistencyPreconditioning(σ_data: 0.5, σ_min: 0.002)
        #expect(p(0.002).c_skip == 1 && p(0.002).c_out == 0)
        for σ in [0.01, 0.3, 1.7, 80] {
            let c = p(σ), s = σ - 0.002
            #expect(Swift.abs(c.c_skip - 0.25 / (s * s + 0.25)) < 1e-15 && Swift.abs(c.c_out - 0.5 * s / (σ * σ + 0.25).squareRoot()) < 1e-15)
            // For σ ≫ σ_min the coefficients approach EDM's.
            let e = EDMPreconditioning()(σ)
            #expect(Swift.abs(c.c_in - e.c_in) < 1e-15 && Swift.abs(c.c_noise - e.c_noise) < 1e-15)
            if σ >= 1 { #expect(Swift.abs(c.c_skip - e.c_skip) < 1e-2 && Swift.abs(c.c_out - e.c_out) < 1e-2) }
        }
        // f(x, σ_min) = x bit for bit, for an untrained network with large outputs.
        let net = withParameterSeed(3) { ToyMLP(width: 32, blocks: 2, embeddingDim: 16) }
        let f = ConsistencyModel(net, preconditioning: p)
        let x = Tensor.randomNormal([64, 2], seed: 1) * 3
        #expect(f.consistency(x, sigma: 0.002).scalars == x.scalars)
        #expect(rms(f.consistency(x, sigma: 0.5), x) > 1e-3, "away from σ_min the network matters")
    }

    @Test func exactConsistencyFunctionIsSelfConsistentAndMatchesTheFlow() {
        let f = ExactConsistencyFunction(Self.mixture)
        let x = NoiseSource(seed: 2).prior([32, 2], sigma: 5)
        let end = f.consistency(x, sigma: 5)
        #expect(rms(end, Self.mixture.probabilityFlow(x, from: 5, to: 0.002, steps: 3000)) < 1e-5)
        // Self-consistency: any point of the same trajectory maps to the same end point.
        let mid = Self.mixture.probabilityFlow(x, from: 5, to: 0.7, steps: 3000)
        #expect(rms(f.consistency(mid, sigma: 0.7), end) < 1e-5)
        // Per-sample levels are served row by row.
        let mixed = f.consistency(Tensor.concat([x, mid], axis: 0), sigmas: Array(repeating: 5, count: 32) + Array(repeating: 0.7, count: 32))
        #expect(rms(mixed, Tensor.concat([end, end], axis: 0)) < 1e-5)
    }

    /// CD loss of the ideal consistency function: at solver tolerance with the exact teacher step, and the squared
    /// Euler local error (∝ N⁻⁴) with an Euler teacher.
    @Test func idealConsistencyFunctionHasZeroDistillationLossUpToTheTeacherSolver() {
        let f = ExactConsistencyFunction(Self.mixture)
        let target: (Tensor, [Double]) -> Tensor = { f.consistency($0, sigmas: $1) }
        let x0 = Self.mixture.sample(128, seed: 4)
        let z = Tensor.randomNormal([128, 2], seed: 5)
        let scale = ConsistencyLevels(sigmaMin: 0.002, sigmaMax: 10)
        func meanLoss(_ teacher: ConsistencyTeacher, _ N: Int) -> Double {
            let levels = scale.levels(N)
            let idx = (0..<128).map { $0 % (N - 1) }
            return Double(ConsistencyObjective(teacher: teacher).loss(f, target: target, x0: x0, noise: z, indices: idx, levels: levels).mean().item)
        }
        let exact = meanLoss(.exact(Self.mixture), 18)
        let euler = [16, 32, 64].map { meanLoss(.euler(Self.mixture), $0) }
        #expect(exact < 1e-9, "exact teacher: \(exact)")
        #expect(euler[0] > 1e3 * exact)
        let slope = logLogSlope([16, 32, 64], euler)
        #expect(slope < -3.3 && slope > -4.7, "Euler CD loss slope \(slope)")
        let heun = [16, 32].map { meanLoss(.heun(Self.mixture), $0) }
        #expect(heun[1] < euler[1] / 10)
    }

    @Test func curriculaAndLevelSamplingFollowThePapers() {
        #expect(ConsistencyCurriculum.improved(s0: 10, s1: 1280).N(step: 0, of: 8000) == 11)
        #expect(ConsistencyCurriculum.improved(s0: 10, s1: 1280).N(step: 1000, of: 8000) == 21)   // K′ = ⌊8000/8⌋ = 1000
        #expect(ConsistencyCurriculum.improved(s0: 10, s1: 1280).N(step: 7999, of: 8000) == 1281)
        #expect(ConsistencyCurriculum.original(s0: 2, s1: 150).N(step: 0, of: 1000) == 2)
        #expect(ConsistencyCurriculum.original(s0: 2, s1: 150).N(step: 1000, of: 1000) == 151)
        let levels = ConsistencyLevels().levels(18)
        #expect(levels.first == 0.002 && levels.last == 80 && zip(levels, levels.dropFirst()).allSatisfy { $0 < $1 })
        let p = ConsistencyLevelSampling.lognormal(mean: -1.1, std: 2).probabilities(levels)
        #expect(Swift.abs(p.reduce(0, +) - 1) < 1e-12)
        // The mode of the lognormal is the pair around e^{−1.1} ≈ 0.33.
        let top = p.indices.max { p[$0] < p[$1] }!
        #expect(levels[top] < exp(-1.1) * 3 && levels[top + 1] > exp(-1.1) / 3)
        let u = (0..<10_000).map { Float($0) / 10_000 }
        let idx = ConsistencyLevelSampling.lognormal(mean: -1.1, std: 2).indices(levels, uniforms: u)
        #expect(Swift.abs(Double(idx.filter { $0 == top }.count) / 10_000 - p[top]) < 1e-3)
    }

    @Test func multistepSamplingWithTheExactFunctionReachesTheData() {
        let f = ExactConsistencyFunction(Self.mixture, stepsPerUnit: 20)
        let n = 400
        let one = Sampling.consistency(f, NoiseSource(seed: 6).prior([n, 2], sigma: 80), sigmaMax: 80)
        let two = Sampling.consistency(f, NoiseSource(seed: 6).prior([n, 2], sigma: 80), sigmaMax: 80, sigmas: [0.8], noise: NoiseSource(seed: 6))
        let floor = Metrics.expectedEnergyDistanceFloor(n: n) { n, s in Self.mixture.sample(n, seed: s) }
        let data = Self.mixture.sample(n, seed: 99)
        #expect(Metrics.energyDistance(one, data) < 3 * floor && Metrics.energyDistance(two, data) < 3 * floor)
    }

    /// A consistency-distilled student (exact mixture teacher, Heun steps, lognormal levels) against the teacher's 18-step sampler.
    @Test func distilledStudentSamplesNearTheTeacherInOneAndTwoSteps() {
        var s = ConsistencySettings()
        (s.steps, s.curriculum, s.levels, s.width, s.seed) = (600, .fixed(18), ConsistencyLevels(sigmaMin: 0.002, sigmaMax: 80), 64, 1)
        s.sampling = .lognormal(mean: -1.1, std: 2)
        let trainer = ConsistencyTrainer(s, data: Self.data, objective: ConsistencyObjective(teacher: .heun(Self.mixture)))
        let start = Date()
        var first = 0.0, last = 0.0
        trainer.train(onStep: { k, loss in if k <= 20 { first += loss / 20 }; if k > 580 { last += loss / 20 } })
        let n = 500
        let prior = NoiseSource(seed: 7).prior([n, 2], sigma: 80)
        let one = Sampling.consistency(trainer.model, prior, sigmaMax: 80)
        let two = Sampling.consistency(trainer.model, prior, sigmaMax: 80, sigmas: [0.8], noise: NoiseSource(seed: 7))
        let data = Self.mixture.sample(n, seed: 98)
        let teacher = Sampling.heun(Self.mixture, prior, sigmas: Schedule.karras(steps: 18))
        let (e1, e2, et) = (Metrics.energyDistance(one, data), Metrics.energyDistance(two, data), Metrics.energyDistance(teacher, data))
        let floor = Metrics.expectedEnergyDistanceFloor(n: n) { n, s in Self.mixture.sample(n, seed: s) }
        print(String(format: "CD: %.1f s, loss %.4f → %.4f, ED one %.4f two %.4f teacher %.4f floor %.4f", Date().timeIntervalSince(start), first, last, e1, e2, et, floor))
        #expect(last < first / 3)
        // Measured (seeds 7–9): one step ≈ 2× the teacher's distance, two steps ≈ the teacher's.
        #expect(e1 < 3.5 * Swift.max(et, floor) && e2 < 2 * Swift.max(et, floor))
        // An untrained network is far away.
        let fresh = ConsistencyTrainer(s, data: Self.data, objective: ConsistencyObjective(teacher: .heun(Self.mixture)))
        #expect(Metrics.energyDistance(Sampling.consistency(fresh.model, prior, sigmaMax: 80), data) > 5 * e1)
    }

    @Test func idealProgressiveStudentReproducesTwoTeacherStepsInOne() {
        let sigmas = Schedule.karras(steps: 8)
        let x = NoiseSource(seed: 8).prior([64, 2], sigma: 80)
        let teacher = Sampling.ddim(Self.mixture, x, sigmas: sigmas)
        let student = Sampling.ddim(DistilledDenoiser(Self.mixture, teacherSigmas: sigmas), x, sigmas: ProgressiveDistillation.halve(sigmas))
        #expect(rms(student, teacher) < 1e-5)
        #expect(rms(Sampling.ddim(Self.mixture, x, sigmas: ProgressiveDistillation.halve(sigmas)), teacher) > 1e-2,
                "the teacher itself with half the steps is worse")
    }

    @Test func trainedProgressiveStudentHalvesTheSteps() {
        let sigmas = Schedule.karras(steps: 8)
        let student = ProgressiveDistillation.makeStudent(width: 64, seed: 2)
        let trainer = ProgressiveDistillationTrainer(teacher: Self.mixture, teacherSigmas: sigmas, student: student, data: Self.data, steps: 500, seed: 3)
        let start = Date()
        trainer.train()
        let x = NoiseSource(seed: 9).prior([400, 2], sigma: 80)
        let teacher = Sampling.ddim(Self.mixture, x, sigmas: sigmas)
        let halved = Sampling.ddim(Self.mixture, x, sigmas: trainer.studentSigmas)
        let learned = withNoGrad { Sampling.ddim(student, x, sigmas: trainer.studentSigmas) }
        let (eStudent, eHalf) = (rms(learned, teacher), rms(halved, teacher))
        print(String(format: "PD: %.1f s, student vs teacher %.4f, teacher at 4 steps vs 8 %.4f", Date().timeIntervalSince(start), eStudent, eHalf))
        #expect(eStudent < eHalf && eStudent < 0.15)
        // The copy starts where its teacher is.
        let copy = ProgressiveDistillation.copy(student)
        #expect(rms(copy.denoise(x, sigma: 3), student.denoise(x, sigma: 3)) == 0)
    }
}
