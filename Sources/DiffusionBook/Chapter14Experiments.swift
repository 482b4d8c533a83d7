import Diffusion
import DiffusionEngine
import DiffusionPlot
import Foundation

/// The experiments of chapter 14 (book/ch14-frontier.md): the consistency parametrisation and the ideal consistency
/// function of a Gaussian mixture, consistency distillation and training of a toy network, progressive distillation
/// with an exact teacher, and memorisation by the exact optimum on a finite training set.
///
/// Conventions: EDM levels σ (α = 1 coordinates); σ_min = 0.002, σ_max = 80; trajectory errors are root-mean-square
/// over samples and coordinates; sample quality is the energy distance to fresh data with its expected real-vs-real
/// floor at the same size.
public enum Chapter14 {
    public static let experiments: [BookExperiment] = [consistency, distillation, progressive, memorisation]

    /// Three broad 2-D bumps: the data of the training experiments.
    public static let mixture = GaussianMixture(weights: [0.5, 0.3, 0.2], means: [[-1, 0], [1, 0.5], [0.2, 1.5]],
                                                stds: [[0.3, 0.25], [0.25, 0.3], [0.3, 0.3]])
    public static let data = ToyDataset.mixture(name: "ch14-bumps", summary: "three 2-D bumps", mixture)

    static func points(_ t: Tensor, limit: Int = .max) -> [Point] {
        let s = t.scalars, n = Swift.min(t.shape[0], limit)
        return (0..<n).map { Point(Double(s[2 * $0]), Double(s[2 * $0 + 1])) }
    }

    static func key(_ x: Double) -> String { String(format: "%g", x).replacingOccurrences(of: ".", with: "p") }

    // MARK: Figure — the parametrisation, trajectories and the ideal function's distillation loss

    static let consistency = BookExperiment(
        name: "ch14-consistency",
        summary: "c_skip/c_out of the consistency parametrisation against EDM's; exact 1-D probability-flow trajectories and their consistency map; CD loss of the ideal consistency function against N for Euler, Heun and exact teacher steps.",
        defaults: ["seed": "1", "paths": "14", "n": "96", "N": "8,16,32,64"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let paths = try p.int("paths", in: 1...100)
        let n = try p.int("n", in: 8...2048)
        let Ns = try p.ints("N")
        guard Ns.count >= 2, Ns.allSatisfy({ (4...512).contains($0) }) else { throw ExperimentError("N must list at least two values in 4…512") }
        var numbers: [String: Double] = ["paths": Double(paths), "n": Double(n)]
        let cm = ConsistencyPreconditioning(σ_data: 0.5, σ_min: 0.002), edm = EDMPreconditioning()
        numbers["cskip_min"] = cm(0.002).c_skip
        numbers["cout_min"] = cm(0.002).c_out
        numbers["edm_cskip_min"] = edm(0.002).c_skip
        numbers["edm_cout_min"] = edm(0.002).c_out
        for σ in [0.01, 0.1, 0.5, 1, 10, 80] {
            numbers["cskip_\(key(σ))"] = cm(σ).c_skip
            numbers["cout_\(key(σ))"] = cm(σ).c_out
        }
        // Curricula (K = 8000 steps) and the lognormal level distribution on N = 18 levels.
        for k in [0, 1000, 3500, 7999] {
            numbers["ict_N_\(k)"] = Double(ConsistencyCurriculum.improved(s0: 10, s1: 1280).N(step: k, of: 8000))
            numbers["ct_N_\(k)"] = Double(ConsistencyCurriculum.original(s0: 2, s1: 150).N(step: k, of: 8000))
        }
        let lv18 = ConsistencyLevels().levels(18)
        let probs = ConsistencyLevelSampling.lognormal(mean: -1.1, std: 2).probabilities(lv18)
        let top = probs.indices.max { probs[$0] < probs[$1] }!
        (numbers["lognormal_top_lo"], numbers["lognormal_top_hi"], numbers["lognormal_top_p"]) = (lv18[top], lv18[top + 1], probs[top])
        numbers["lognormal_first_p"] = probs[0]
        numbers["lognormal_last_p"] = probs[probs.count - 1]
        let grid = (0...120).map { 0.002 * pow(80 / 0.002, Double($0) / 120) }
        var coeffs = Plot(width: 300, height: 300, title: "系数", x: Axis("σ", scale: .log), y: Axis(nil, range: 0...1.05))
        coeffs.line(x: grid, y: grid.map { cm($0).c_skip }, colour: 0, label: "c_skip（一致性）")
        coeffs.line(x: grid, y: grid.map { cm($0).c_out }, colour: 1, label: "c_out（一致性）")
        coeffs.line(x: grid, y: grid.map { edm($0).c_skip }, colour: 0, style: .dashed, label: "c_skip（EDM）")
        coeffs.line(x: grid, y: grid.map { edm($0).c_out }, colour: 1, style: .dashed, label: "c_out（EDM）")

        // 1-D trajectories: every point of a path maps to its end at σ_min.
        let m1 = GaussianMixture.example1D
        let levels = (0...40).map { 80 * pow(0.002 / 80, Double($0) / 40) }
        var x = NoiseSource(seed: seed).prior([paths, 1], sigma: 80)
        var tracks = Array(repeating: [Point](), count: paths)
        for (k, σ) in levels.enumerated() {
            if k > 0 { x = m1.probabilityFlow(x, from: levels[k - 1], to: σ, steps: 60) }
            for i in 0..<paths { tracks[i].append(Point(σ, Double(x.scalars[i]))) }
        }
        let f1 = ExactConsistencyFunction(m1)
        // Self-consistency: f at three points of each path against the path's end.
        var worst = 0.0
        for probe in [30, 20, 10] {
            let at = Tensor(tracks.map { Float($0[probe].y) }, shape: [paths, 1])
            let out = f1.consistency(at, sigma: levels[probe]).scalars
            for i in 0..<paths { worst = Swift.max(worst, Swift.abs(Double(out[i]) - tracks[i].last!.y)) }
        }
        numbers["self_consistency_max"] = worst
        // Drawn in VP coordinates x/√(1 + σ²), so the start (80z) and the end (data) share one scale.
        let vp = tracks.map { $0.map { Point($0.x, $0.y / (1 + $0.x * $0.x).squareRoot()) } }
        var traj = Plot(width: 330, height: 300, title: "一维概率流轨迹", x: Axis("σ（从右往左走）", scale: .log), y: Axis("x/√(1+σ²)"))
        traj.trajectories(vp, colour: 2)
        traj.scatter(vp.map { Point(0.002, $0.last!.y) }, colour: 3, radius: 3, opacity: 1, label: "f(x, σ) 的值")

        // CD loss of the ideal function: exact step at solver tolerance; Euler ∝ N⁻⁴, Heun ∝ N⁻⁶.
        let f = ExactConsistencyFunction(mixture)
        let x0 = mixture.sample(n, seed: seed &+ 10), z = Tensor.randomNormal([n, 2], seed: seed &+ 11)
        let scale = ConsistencyLevels(sigmaMin: 0.002, sigmaMax: 80)
        func loss(_ teacher: ConsistencyTeacher, _ N: Int) -> Double {
            let lv = scale.levels(N)
            let idx = (0..<n).map { $0 % (N - 1) }
            return Double(ConsistencyObjective(teacher: teacher).loss(f, target: { f.consistency($0, sigmas: $1) }, x0: x0, noise: z,
                                                                     indices: idx, levels: lv).mean().item)
        }
        var cd = Plot(width: 330, height: 300, title: "理想 f 的蒸馏损失", x: Axis("离散水平数 N", scale: .log), y: Axis("损失", scale: .log, range: 1e-9...1))
        for (c, (name, teacher)) in [("euler", ConsistencyTeacher.euler(mixture)), ("heun", .heun(mixture))].enumerated() {
            let ls = Ns.map { loss(teacher, $0) }
            let slope = Chapter8.logLogSlope(Ns.map(Double.init), ls)
            numbers["slope_\(name)"] = slope
            for (N, l) in zip(Ns, ls) { numbers["loss_\(name)_\(N)"] = l }
            cd.line(x: Ns.map(Double.init), y: ls, colour: c, label: "\(name == "euler" ? "Euler" : "Heun") 教师，斜率 \(String(format: "%.1f", slope))")
            cd.scatter(zip(Ns, ls).map { Point(Double($0), $1) }, colour: c, radius: 2.5, opacity: 1)
        }
        numbers["loss_exact_\(Ns[0])"] = loss(.exact(mixture), Ns[0])
        return ExperimentResult(svg: Figure([coeffs, traj, cd], columns: 3).svg(title: "一致性参数化、概率流轨迹与理想一致性函数的蒸馏损失"), numbers: numbers)
    }
}

extension Chapter14 {
    // MARK: Figure — consistency distillation and consistency training of a toy network

    /// A consistency run on the chapter's mixture: distillation from the exact mixture with Heun steps, N = 18 and
    /// iCT's lognormal levels (`teacher` true) or iCT-style training (`teacher` false: lognormal levels, doubling curriculum, pseudo-Huber, 1/Δσ weight,
    /// θ⁻ = stopgrad θ).
    public static func consistencyTrainer(teacher: Bool, steps: Int, width: Int = 64, seed: UInt64 = 1) -> ConsistencyTrainer {
        var s = teacher ? ConsistencySettings() : ConsistencySettings.improved(steps: steps)
        (s.steps, s.width, s.seed) = (steps, width, seed)
        if teacher {
            (s.curriculum, s.sampling) = (.fixed(18), .lognormal(mean: -1.1, std: 2))
            return ConsistencyTrainer(s, data: data, objective: ConsistencyObjective(teacher: .heun(mixture)))
        }
        s.curriculum = .improved(s0: 10, s1: 160)
        return ConsistencyTrainer(s, data: data, objective: ConsistencyObjective(teacher: nil, distance: .pseudoHuber(c: 0.00054 * 2.0.squareRoot()),
                                                                                 weighting: .inverseGap))
    }

    static let distillation = BookExperiment(
        name: "ch14-distillation",
        summary: "A ToyMLP consistency model distilled from the exact mixture (Heun teacher, N = 18) and one trained without a teacher (iCT recipe), sampled in one and two steps, against the teacher's 18-step Heun sampler and the data (energy distances with the real-vs-real floor).",
        defaults: ["seed": "1", "steps": "600", "n": "500", "tau": "0.8"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let steps = try p.int("steps", in: 10...20_000)
        let n = try p.int("n", in: 50...4000)
        let τ = try p.double("tau")
        guard 0.002 < τ && τ < 80 else { throw ExperimentError("tau must lie in (0.002, 80)") }
        var numbers: [String: Double] = ["steps": Double(steps), "n": Double(n), "tau": τ]
        let prior = NoiseSource(seed: seed &+ 7).prior([n, 2], sigma: 80)
        let real = mixture.sample(n, seed: seed &+ 98)
        numbers["ed_floor"] = Metrics.expectedEnergyDistanceFloor(n: n) { n, s in mixture.sample(n, seed: s) }
        let heun = Sampling.heun(mixture, prior, sigmas: Schedule.karras(steps: 18))
        numbers["ed_teacher"] = Metrics.energyDistance(heun, real)
        let oneDDIM = Sampling.ddim(mixture, prior, sigmas: [80, 0])
        numbers["ed_ddim_1"] = Metrics.energyDistance(oneDDIM, real)
        var panels: [Plot] = []
        func panel(_ title: String, _ t: Tensor, _ c: Int) {
            var pl = Plot(width: 210, height: 210, title: title, x: Axis(nil, range: -2.2...2.2), y: Axis(nil, range: -1.4...2.6), equalAspect: true)
            pl.scatter(points(t, limit: 400), colour: c, radius: 1.5, opacity: 0.6)
            panels.append(pl)
        }
        panel("数据", real, 0)
        panel("教师：Heun 18 步", heun, 0)
        panel("DDIM 1 步", oneDDIM, 3)
        for (name, teacher) in [("cd", true), ("ct", false)] {
            let trainer = consistencyTrainer(teacher: teacher, steps: steps, seed: seed)
            var first = 0.0, last = 0.0
            let window = Swift.max(1, steps / 20)
            trainer.train(onStep: { k, loss in
                if k <= window { first += loss / Double(window) }
                if k > steps - window { last += loss / Double(window) }
            })
            numbers["\(name)_loss_first"] = first
            numbers["\(name)_loss_last"] = last
            numbers["\(name)_final_N"] = Double(trainer.settings.curriculum.N(step: steps - 1, of: steps))
            let one = Sampling.consistency(trainer.model, prior, sigmaMax: 80)
            let two = Sampling.consistency(trainer.model, prior, sigmaMax: 80, sigmas: [τ], noise: NoiseSource(seed: seed &+ 7))
            numbers["ed_\(name)_1"] = Metrics.energyDistance(one, real)
            numbers["ed_\(name)_2"] = Metrics.energyDistance(two, real)
            // Distillation error: the one-step output against the exact flow's end from the same noise.
            if teacher {
                let exact = ExactConsistencyFunction(mixture, stepsPerUnit: 20).consistency(Tensor(prior.scalars[0..<(2 * 100)].map { $0 }, shape: [100, 2]), sigma: 80)
                let mine = Tensor(one.scalars[0..<(2 * 100)].map { $0 }, shape: [100, 2])
                numbers["cd_rms_exact"] = Chapter8.rms(mine, exact)
                numbers["ddim1_rms_exact"] = Chapter8.rms(Tensor(oneDDIM.scalars[0..<(2 * 100)].map { $0 }, shape: [100, 2]), exact)
            }
            let label = teacher ? "一致性蒸馏" : "一致性训练"
            panel("\(label) 1 步", one, teacher ? 1 : 2)
            panel("\(label) 2 步", two, teacher ? 1 : 2)
        }
        let order = [0, 1, 2, 3, 4, 5, 6]
        return ExperimentResult(svg: Figure(order.map { panels[$0] }, columns: 4).svg(title: "一致性模型：一步与两步采样（各 400 个点）"), numbers: numbers)
    }
}

extension Chapter14 {
    // MARK: Figure — progressive distillation with an exact first teacher

    static let progressive = BookExperiment(
        name: "ch14-progressive",
        summary: "Progressive distillation 8 → 4 → 2 → 1 DDIM steps from the exact mixture denoiser (each student starts as a copy of its teacher): distance of each student's samples to the exact flow map and to the 8-step teacher, against DDIM with the exact denoiser at the same step counts.",
        defaults: ["seed": "2", "steps": "300", "teacher_steps": "8", "n": "400"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let steps = try p.int("steps", in: 10...20_000)
        let N0 = try p.int("teacher_steps", in: 2...64)
        guard N0 & (N0 - 1) == 0 else { throw ExperimentError("teacher_steps must be a power of two") }
        let n = try p.int("n", in: 20...4000)
        var numbers: [String: Double] = ["steps": Double(steps), "teacher_steps": Double(N0), "n": Double(n)]
        let prior = NoiseSource(seed: seed &+ 9).prior([n, 2], sigma: 80)
        let exact = ExactConsistencyFunction(mixture, stepsPerUnit: 20).consistency(prior, sigma: 80)
        let real = mixture.sample(n, seed: seed &+ 97)
        numbers["ed_floor"] = Metrics.expectedEnergyDistanceFloor(n: n) { n, s in mixture.sample(n, seed: s) }
        let teacherSigmas = Schedule.karras(steps: N0)
        let teacherOut = Sampling.ddim(mixture, prior, sigmas: teacherSigmas)
        numbers["ideal_check"] = Chapter8.rms(Sampling.ddim(DistilledDenoiser(mixture, teacherSigmas: teacherSigmas), prior,
                                                            sigmas: ProgressiveDistillation.halve(teacherSigmas)), teacherOut)
        var counts: [Int] = []
        var ddimErr: [Double] = [], studentErr: [Double] = []
        var N = N0
        while N >= 1 { counts.append(N); N /= 2 }
        for N in counts {
            let out = Sampling.ddim(mixture, prior, sigmas: Schedule.karras(steps: N))
            numbers["err_ddim_\(N)"] = Chapter8.rms(out, exact)
            numbers["ed_ddim_\(N)"] = Metrics.energyDistance(out, real)
            ddimErr.append(numbers["err_ddim_\(N)"]!)
        }
        // Round 1: the exact denoiser teaches a fresh network; later rounds: the last student teaches its own copy.
        var teacher: any Denoiser = mixture
        var sigmas = teacherSigmas
        var student = ProgressiveDistillation.makeStudent(width: 64, seed: seed)
        var lastOneStep = prior
        while sigmas.count > 2 {
            let trainer = ProgressiveDistillationTrainer(teacher: teacher, teacherSigmas: sigmas, student: student, data: data,
                                                         steps: steps, seed: seed &+ UInt64(sigmas.count))
            trainer.train()
            sigmas = trainer.studentSigmas
            let M = sigmas.count - 1
            let out = withNoGrad { Sampling.ddim(student, prior, sigmas: sigmas) }
            numbers["err_student_\(M)"] = Chapter8.rms(out, exact)
            numbers["err_student_teacher_\(M)"] = Chapter8.rms(out, teacherOut)
            numbers["ed_student_\(M)"] = Metrics.energyDistance(out, real)
            studentErr.append(numbers["err_student_\(M)"]!)
            lastOneStep = out
            teacher = student
            student = ProgressiveDistillation.copy(student)
        }
        numbers["err_teacher"] = numbers["err_ddim_\(N0)"]!
        var errors = Plot(width: 340, height: 300, title: "与精确流映射的误差", x: Axis("采样步数（= 模型调用次数）", scale: .log),
                          y: Axis("均方根误差", scale: .log))
        errors.line(x: counts.map(Double.init), y: ddimErr, colour: 3, style: .dashed, label: "精确去噪器 + DDIM")
        errors.scatter(zip(counts, ddimErr).map { Point(Double($0), $1) }, colour: 3, radius: 2.5, opacity: 1)
        let studentCounts = Array(counts.dropFirst())
        errors.line(x: studentCounts.map(Double.init), y: studentErr, colour: 1, label: "渐进蒸馏的学生")
        errors.scatter(zip(studentCounts, studentErr).map { Point(Double($0), $1) }, colour: 1, radius: 2.5, opacity: 1)
        var one = Plot(width: 260, height: 260, title: "一步的样本", x: Axis(nil, range: -2.2...2.2), y: Axis(nil, range: -1.4...2.6), equalAspect: true)
        one.scatter(points(real, limit: 300), colour: 0, radius: 1.3, opacity: 0.35, label: "数据")
        one.scatter(points(lastOneStep, limit: 300), colour: 1, radius: 1.5, opacity: 0.7, label: "学生 1 步")
        one.scatter(points(Sampling.ddim(mixture, prior, sigmas: [80, 0]), limit: 300), colour: 3, radius: 2.2, opacity: 0.9, label: "DDIM 1 步")
        return ExperimentResult(svg: Figure([errors, one], columns: 2).svg(title: "渐进蒸馏：\(N0) → \(N0 / 2) → … → 1 步"), numbers: numbers)
    }

    // MARK: Figure — the exact optimum on a finite training set memorises

    /// The empirical distribution of `points` as a mixture of narrow Gaussians (std `width`): its exact denoiser is
    /// the minimiser of the denoising loss on that training set (up to the width).
    public static func empirical(_ points: Tensor, width: Double = 1e-3) -> GaussianMixture {
        let s = points.scalars, n = points.shape[0], d = points.count / n
        return GaussianMixture(weights: Array(repeating: 1, count: n), means: (0..<n).map { i in (0..<d).map { Double(s[i * d + $0]) } },
                               std: Array(repeating: width, count: n))
    }

    /// Distance from each row of `a` to its nearest row of `b`.
    static func nearest(_ a: Tensor, _ b: Tensor) -> [Double] {
        let x = a.scalars, y = b.scalars, n = a.shape[0], m = b.shape[0]
        return (0..<n).map { i in
            (0..<m).map { j in
                let dx = Double(x[2 * i] - y[2 * j]), dy = Double(x[2 * i + 1] - y[2 * j + 1])
                return (dx * dx + dy * dy).squareRoot()
            }.min()!
        }
    }

    static let memorisation = BookExperiment(
        name: "ch14-memorisation",
        summary: "Samples (Heun, 18 steps) of the exact denoiser of a finite training set (the minimiser of the denoising loss) against those of the true mixture: share of samples within 0.01 of a training point and energy distance to fresh data, for several training-set sizes.",
        defaults: ["seed": "4", "sizes": "16,64,256", "n": "300", "radius": "0.01"]
    ) { p in
        let seed = UInt64(try p.int("seed", in: 0...1_000_000))
        let sizes = try p.ints("sizes")
        guard !sizes.isEmpty, sizes.allSatisfy({ (2...2048).contains($0) }) else { throw ExperimentError("sizes must lie in 2…2048") }
        let n = try p.int("n", in: 20...2000)
        let r = try p.double("radius")
        var numbers: [String: Double] = ["n": Double(n), "radius": r]
        let prior = NoiseSource(seed: seed).prior([n, 2], sigma: 80)
        let sigmas = Schedule.karras(steps: 18)
        let real = mixture.sample(n, seed: seed &+ 50)
        numbers["ed_floor"] = Metrics.expectedEnergyDistanceFloor(n: n) { n, s in mixture.sample(n, seed: s) }
        let trueSamples = Sampling.heun(mixture, prior, sigmas: sigmas)
        numbers["ed_true"] = Metrics.energyDistance(trueSamples, real)
        var panels: [Plot] = []
        for size in sizes {
            let train = mixture.sample(size, seed: seed &+ 1000)
            let out = Sampling.heun(empirical(train), prior, sigmas: sigmas)
            let near = nearest(out, train)
            numbers["copied_\(size)"] = Double(near.filter { $0 < r }.count) / Double(n)
            numbers["ed_empirical_\(size)"] = Metrics.energyDistance(out, real)
            numbers["ed_train_\(size)"] = Metrics.energyDistance(train, real)
            numbers["true_near_\(size)"] = Double(nearest(trueSamples, train).filter { $0 < r }.count) / Double(n)
            var pl = Plot(width: 230, height: 230, title: "训练集 \(size) 个点", x: Axis(nil, range: -2.2...2.2), y: Axis(nil, range: -1.4...2.6), equalAspect: true)
            pl.scatter(points(out), colour: 1, radius: 1.6, opacity: 0.5, label: "精确最优解的样本")
            pl.scatter(points(train), colour: 3, radius: 3, opacity: 1, label: "训练点")
            panels.append(pl)
        }
        var t = Plot(width: 230, height: 230, title: "真实分布的去噪器", x: Axis(nil, range: -2.2...2.2), y: Axis(nil, range: -1.4...2.6), equalAspect: true)
        t.scatter(points(trueSamples), colour: 0, radius: 1.6, opacity: 0.5, label: "样本")
        panels.append(t)
        return ExperimentResult(svg: Figure(panels, columns: panels.count).svg(title: "有限训练集上的精确最优解只会复制训练点"), numbers: numbers)
    }
}
