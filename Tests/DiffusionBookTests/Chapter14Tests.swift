import Diffusion
import Foundation
import Testing
@testable import DiffusionBook

/// Chapter 14 (book/ch14-frontier.md): the computed answers recomputed independently (closed forms, a separate erf
/// quadrature, a plain-Double empirical denoiser and sampler), the claims the text makes about the figures and tables
/// checked on the numbers the library produced, the listings run, the structure and the rendered page.
@Suite("Chapter 14: computed answers, claims about the figures, listings, structure, rendered page")
struct Chapter14Tests: ExperimentChecks {
    // MARK: §14.2 — the parametrisation, curricula, level sampling, the ideal function's CD loss

    @Test func consistencyNumbersMatchClosedForms() throws {
        let n = try Self.run("ch14-consistency")
        let (sd, sm) = (0.5, 0.002)
        #expect(n["cskip_min"] == 1 && n["cout_min"] == 0)
        #expect(Self.close(n["edm_cskip_min"], sd * sd / (sm * sm + sd * sd)) && Self.close(n["edm_cout_min"], sm * sd / (sm * sm + sd * sd).squareRoot()))
        for (σ, k) in [(0.01, "0p01"), (0.1, "0p1"), (1, "1"), (80, "80")] {
            #expect(Self.close(n["cskip_\(k)"], sd * sd / ((σ - sm) * (σ - sm) + sd * sd)))
            #expect(Self.close(n["cout_\(k)"], sd * (σ - sm) / (σ * σ + sd * sd).squareRoot()))
        }
        // Exercise 14.5 (a): both curricula written out.
        for k in [0, 1000, 3500, 7999] {
            #expect(n["ict_N_\(k)"] == Double(min(10 << (k / 1000), 1280) + 1))
            let r = (Double(k) / 8000 * Double(151 * 151 - 4) + 4).squareRoot()
            #expect(n["ct_N_\(k)"] == (r - 1).rounded(.up) + 1)
        }
        #expect(n["ct_N_1000"] == 54 && n["ict_N_3500"] == 81)
        // Exercise 14.5 (b): Karras levels and lognormal masses by a midpoint quadrature of the normal density.
        let a = pow(0.002, 1 / 7.0), b = pow(80.0, 1 / 7.0)
        let levels = (0..<18).map { pow(a + Double($0) / 17 * (b - a), 7) }
        func mass(_ lo: Double, _ hi: Double) -> Double {
            let (u0, u1, M) = (log(lo), log(hi), 4000)
            let h = (u1 - u0) / Double(M)
            return (0..<M).reduce(0.0) { s, i in
                let u = u0 + (Double(i) + 0.5) * h
                return s + h * exp(-(u + 1.1) * (u + 1.1) / 8) / (2 * (2 * Double.pi).squareRoot())
            }
        }
        let masses = (0..<17).map { mass(levels[$0], levels[$0 + 1]) }
        let total = masses.reduce(0, +)
        let top = masses.indices.max { masses[$0] < masses[$1] }!
        #expect(Self.close(n["lognormal_top_lo"], levels[top], rel: 1e-9) && Self.close(n["lognormal_top_hi"], levels[top + 1], rel: 1e-9))
        #expect(Self.close(n["lognormal_top_p"], masses[top] / total, rel: 1e-6))
        #expect(Self.close(n["lognormal_first_p"], masses[0] / total, rel: 1e-6) && Self.close(n["lognormal_last_p"], masses[16] / total, rel: 1e-6))
        #expect(levels[top] > exp(-1.1) / 3 && levels[top + 1] < exp(-1.1) * 3)
        // The figure's claims: self-consistency, loss at solver tolerance, slopes ≈ −4 and −6.
        #expect(n["self_consistency_max"]! < 1e-4)
        #expect(n["loss_exact_8"]! < 1e-9 && n["loss_euler_8"]! > 1e4 * n["loss_exact_8"]!)
        #expect(n["slope_euler"]! < -3.3 && n["slope_euler"]! > -4.7, "Euler slope \(n["slope_euler"]!)")
        #expect(n["slope_heun"]! < -5 && n["slope_heun"]! > -7, "Heun slope \(n["slope_heun"]!)")
        #expect(n["loss_heun_32"]! < n["loss_euler_32"]! / 10)
    }

    // MARK: §14.2.7 — the trained consistency models

    @Test func consistencyModelsSampleAsTheTableSays() throws {
        let n = try Self.run("ch14-distillation")
        #expect(n["ed_teacher"]! < 6 * n["ed_floor"]!)
        // Two steps help both models.
        #expect(n["ed_ct_2"]! < n["ed_ct_1"]! && n["ed_cd_2"]! < n["ed_cd_1"]!)
        // One-step DDIM collapses to the mean; both consistency models do far better in one call.
        #expect(n["ed_ddim_1"]! > 10 * n["ed_cd_1"]! && n["ed_ddim_1"]! > 5 * n["ed_ct_1"]!)
        // The library's own test bound: the distilled student within 6× the teacher (or the floor) in 1 and 2 steps.
        let ref = max(n["ed_teacher"]!, n["ed_floor"]!)
        #expect(n["ed_cd_1"]! < 3.5 * ref && n["ed_cd_2"]! < 2 * ref)
        #expect(n["cd_rms_exact"]! < n["ddim1_rms_exact"]! / 2)
        #expect(n["cd_loss_last"]! < n["cd_loss_first"]! / 3)
        #expect(n["ct_final_N"] == 161)
    }

    // MARK: §14.3 — progressive distillation

    @Test func progressiveDistillationTableSupportsTheText() throws {
        let n = try Self.run("ch14-progressive")
        #expect(n["ideal_check"]! < 1e-5)
        for N in [4, 2, 1] { #expect(n["err_student_\(N)"]! < n["err_ddim_\(N)"]!, "student vs DDIM at \(N) steps") }
        #expect(n["err_student_1"]! < n["err_ddim_1"]! / 2 && n["err_student_2"]! < n["err_ddim_2"]! / 2)
        // Students chase the 8-step teacher: closer to it than to the exact flow, and each halving adds a little.
        for N in [4, 2, 1] { #expect(n["err_student_teacher_\(N)"]! < n["err_student_\(N)"]!) }
        #expect(n["err_student_4"]! <= n["err_student_2"]! && n["err_student_2"]! <= n["err_student_1"]!)
        #expect(n["err_ddim_8"]! < n["err_ddim_4"]! && n["err_ddim_4"]! < n["err_ddim_2"]!)
    }

    // MARK: §14.6.1 — memorisation, recomputed with a plain-Double empirical denoiser and DDIM

    @Test func exactEmpiricalOptimumCopiesTrainingPoints() throws {
        let n = try Self.run("ch14-memorisation")
        for M in [16, 64, 256] { #expect(n["copied_\(M)"]! > 0.95, "M = \(M)") }
        #expect(n["true_near_256"]! < 0.15 && n["ed_true"]! < 2 * n["ed_floor"]!)
        // Exercise 14.8: an independent empirical denoiser (weights exp(−‖x − y_i‖²/2σ²), exact deltas) and 60 DDIM
        // steps in Double from the same starts land on training points.
        let train = Chapter14.mixture.sample(16, seed: 4 + 1000).scalars.map(Double.init)
        let start = NoiseSource(seed: 4).prior([300, 2], sigma: 80).scalars.map(Double.init)
        let (a, b) = (pow(80.0, 1 / 7.0), pow(0.002, 1 / 7.0))
        var σs = (0..<60).map { pow(a + Double($0) / 59 * (b - a), 7) }
        σs.append(0)
        var copied = 0
        for i in 0..<300 {
            var x = [start[2 * i], start[2 * i + 1]]
            for k in 0..<60 {
                let σ = σs[k]
                let logw = (0..<16).map { j in -((x[0] - train[2 * j]) * (x[0] - train[2 * j]) + (x[1] - train[2 * j + 1]) * (x[1] - train[2 * j + 1])) / (2 * σ * σ) }
                let top = logw.max()!
                let w = logw.map { exp($0 - top) }, z = w.reduce(0, +)
                let d = [0, 1].map { c in (0..<16).reduce(0.0) { $0 + w[$1] / z * train[2 * $1 + c] } }
                x = [0, 1].map { c in d[c] + σs[k + 1] / σ * (x[c] - d[c]) }
            }
            let near = (0..<16).map { j in hypot(x[0] - train[2 * j], x[1] - train[2 * j + 1]) }.min()!
            if near < 0.01 { copied += 1 }
        }
        #expect(Double(copied) / 300 > 0.95 && Self.close(n["copied_16"], Double(copied) / 300, abs: 0.03))
    }

    // MARK: The chapter's listings

    @Test func theChaptersListingsRun() {
        // §14.2.3: the boundary listing's coefficients.
        let c = ConsistencyPreconditioning()(0.002)
        #expect(c.c_skip == 1 && c.c_out == 0)
        // Exercise 14.9 (a), shortened: settings copied and changed, a trainer built, trained, sampled, measured.
        var s = Chapter14.consistencyTrainer(teacher: false, steps: 20).settings
        s.sampling = .uniform
        let objective = ConsistencyObjective(teacher: nil, distance: .pseudoHuber(c: 0.00054 * 2.0.squareRoot()), weighting: .inverseGap)
        let trainer = ConsistencyTrainer(s, data: Chapter14.data, objective: objective)
        trainer.train()
        let prior = NoiseSource(seed: 8).prior([100, 2], sigma: 80)
        let one = Sampling.consistency(trainer.model, prior, sigmaMax: 80)
        #expect(Metrics.energyDistance(one, Chapter14.mixture.sample(100, seed: 99)).isFinite && trainer.step == 20)
        // Exercise 14.10, one round of 10 steps.
        var sigmas = Schedule.karras(steps: 4)
        var teacher: any Denoiser = Chapter14.mixture
        var student = ProgressiveDistillation.makeStudent(width: 16, seed: 2)
        while sigmas.count > 2 {
            let t = ProgressiveDistillationTrainer(teacher: teacher, teacherSigmas: sigmas, student: student, data: Chapter14.data, steps: 5, seed: 3)
            t.train()
            sigmas = t.studentSigmas
            teacher = student
            student = ProgressiveDistillation.copy(student)
        }
        #expect(sigmas == [80, 0])
    }

    // MARK: Structure of the source and the rendered page

    static let style = ChapterStyle(number: "14", file: "ch14-frontier.md", experiments: Chapter14.experiments, lab: "L14",
                                    programmingNames: ["L14", "ConsistencyTrainer", "ProgressiveDistillationTrainer", "Sampling.consistency"])

    @Test func chapterHasTheStructureTheStyleGuideAsksFor() throws { try Self.style.checkSource() }

    @Test func renderedChapterPageIsCompleteAndTheRealBookChecksClean() throws { try Self.style.checkPage() }
}
