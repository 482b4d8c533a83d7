import Diffusion
import DiffusionEngine
import DiffusionLayers
import DiffusionPlot
import Foundation

/// The experiments of chapter 6 (book/ch06-flow.md): flow matching on the linear interpolant x_t = (1 − t)·x₀ + t·ε
/// (`RectifiedFlow`, t = 1 is noise). Exact answers come from Gaussian mixtures — the marginal velocity is
/// u_t(x) = (x − E[x₀ | x_t = x])/t with the mixture's exact denoiser — and the trained models are small `ToyMLP`s
/// (`ToyTrainer` with the objectives flow and flow-ot, and a reflow loop on pairs of the exact flow).
///
/// Conventions: samplers run from t = 1 to t = 0 on `Schedule.flowTimes`; the "velocity" is dx_t/dt, so generation
/// moves along −u. Energy distances are compared with the real-vs-real floor at the same sample size.
public enum Chapter6 {
    public static let experiments: [BookExperiment] = [path, crossing, ot, train, reflow, numbers]

    // MARK: Shared helpers

    /// The level of flow time t: α = 1 − t, σ = t.
    public static func level(_ t: Double) -> NoiseLevel { NoiseLevel(alpha: 1 - t, sigma: t) }

    /// The velocity u_t(x) = (x − D(x; 1 − t, t))/t of any denoiser at flow time t > 0 (for a `GaussianMixture`,
    /// the exact marginal velocity of the independent coupling).
    public static func velocity(_ model: some Denoiser, _ x: Tensor, _ t: Double) -> Tensor {
        precondition(t > 0, "the flow velocity needs t > 0")
        return (x - model.denoise(x, at: level(t))) * Float(1 / t)
    }

    /// The states of Heun's method (`Sampling.flowHeun`) after every step of `times` (the start first).
    public static func heunPath(_ model: some Denoiser, _ x: Tensor, times: [Double]) -> [Tensor] {
        var states = [x]
        var cur = x
        for i in 0..<(times.count - 1) {
            cur = Sampling.flowHeun(model, cur, times: [times[i], times[i + 1]])
            states.append(cur)
        }
        return states
    }

    /// Liu et al.'s straightness E ∫₀¹ ‖u(x(t), t) − (x(1) − x(0))‖² dt along the trajectories from `start` (at t = 1)
    /// computed with `steps` uniform Heun steps; the integral is the mean over the grid times t = 1, …, 1/steps.
    /// Returns (straightness, E‖x(1) − x(0)‖², the end points x(0)).
    public static func straightness(_ model: some Denoiser, _ start: Tensor, steps N: Int = 32) -> (s: Double, cost: Double, end: Tensor) {
        let times = Schedule.flowTimes(steps: N)
        let states = heunPath(model, start, times: times)
        let end = states[N]
        let chord = start - end
        var total = 0.0
        for i in 0..<N {
            let u = velocity(model, states[i], times[i])
            total += Double((u - chord).squaredNormPerSample().mean().item)
        }
        return (total / Double(N), Double(chord.squaredNormPerSample().mean().item), end)
    }

    /// Mean squared distance between paired rows.
    public static func pairCost(_ a: Tensor, _ b: Tensor) -> Double { Double((a - b).squaredNormPerSample().mean().item) }

    /// Comma-separated numbers of a parameter.
    static func doubles(_ p: ExperimentParameters, _ name: String, in range: ClosedRange<Double>) throws -> [Double] {
        let parts = p.string(name).split(separator: ",").map { Double($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && range.contains($0!) }) else {
            throw ExperimentError("parameter \(name)=\(p.string(name)) must be comma-separated numbers in \(range.lowerBound)…\(range.upperBound)")
        }
        return parts.map { $0! }
    }

    /// Rows of a 2-D tensor as points.
    static func points(_ x: Tensor) -> [Point] {
        let v = x.scalars
        return (0..<(v.count / 2)).map { Point(Double(v[2 * $0]), Double(v[2 * $0 + 1])) }
    }

    /// A scatter panel of 2-D samples coloured by their likeliest mixture component.
    static func cloud(_ title: String, _ x: Tensor, _ m: GaussianMixture, size: Double = 260) -> Plot {
        let v = x.scalars, n = v.count / 2
        var pl = Plot(width: size, height: size, title: title, x: Axis(range: -3.5...3.5), y: Axis(range: -3.5...3.5), equalAspect: true)
        pl.showLegend = false
        pl.scatter(points(x), classes: (0..<n).map { Chapter3.likeliestComponent(m, v, $0) }, radius: 1.1, opacity: 0.55)
        return pl
    }

    /// The CDF of a 1-D mixture and its inverse by bisection: the 1-D optimal-transport map from N(0, 1) is
    /// T(z) = F⁻¹(Φ(z)) (the monotone rearrangement).
    static func mixtureCDF(_ m: GaussianMixture, _ x: Double) -> Double {
        (0..<m.componentCount).reduce(0) { $0 + m.weights[$1] * 0.5 * erfc(-(x - m.means[$1][0]) / (m.stds[$1][0] * 2.0.squareRoot())) }
    }

    public static func quantileMap(_ m: GaussianMixture, _ z: Double) -> Double {
        let u = 0.5 * erfc(-z / 2.0.squareRoot())
        var (lo, hi) = (-20.0, 20.0)
        for _ in 0..<200 {
            let mid = 0.5 * (lo + hi)
            if mixtureCDF(m, mid) < u { lo = mid } else { hi = mid }
        }
        return 0.5 * (lo + hi)
    }

    /// Number of index pairs i < j whose straight segments a_i → b_i and a_j → b_j in the plane cross properly.
    static func crossings2D(_ a: [Point], _ b: [Point]) -> Int {
        func orient(_ p: Point, _ q: Point, _ r: Point) -> Double { (q.x - p.x) * (r.y - p.y) - (q.y - p.y) * (r.x - p.x) }
        var count = 0
        for i in 0..<a.count {
            for j in (i + 1)..<a.count {
                let d1 = orient(a[i], b[i], a[j]), d2 = orient(a[i], b[i], b[j])
                let d3 = orient(a[j], b[j], a[i]), d4 = orient(a[j], b[j], b[i])
                if d1 * d2 < 0 && d3 * d4 < 0 { count += 1 }
            }
        }
        return count
    }

    /// Pairs i < j of straight paths x_t = (1 − t)·a + t·b whose distance at some time t ∈ [0, 1] drops below half the
    /// smaller of their distances at t = 0 and t = 1 ("close encounters"); under an optimal coupling there are none.
    static func closeEncounters(_ a: [Point], _ b: [Point]) -> Int {
        var count = 0
        for i in 0..<a.count {
            for j in (i + 1)..<a.count {
                let (p, q) = (Point(a[i].x - a[j].x, a[i].y - a[j].y), Point(b[i].x - b[j].x, b[i].y - b[j].y))
                let (pp, qq, pq) = (p.x * p.x + p.y * p.y, q.x * q.x + q.y * q.y, p.x * q.x + p.y * q.y)
                // ‖(1 − t)p + t·q‖² is a quadratic in t; its minimum on [0, 1].
                let curvature = pp + qq - 2 * pq
                let t = curvature > 0 ? Swift.min(1, Swift.max(0, (pp - pq) / curvature)) : 0
                let m = (1 - t) * (1 - t) * pp + t * t * qq + 2 * t * (1 - t) * pq
                if m < 0.25 * Swift.min(pp, qq) { count += 1 }
            }
        }
        return count
    }

    /// Pairs i < j with (a_i − a_j)·(b_i − b_j) < 0: swapping their partners would lower the total squared cost.
    static func improvableSwaps(_ a: [Point], _ b: [Point]) -> Int {
        var count = 0
        for i in 0..<a.count {
            for j in (i + 1)..<a.count where (a[i].x - a[j].x) * (b[i].x - b[j].x) + (a[i].y - a[j].y) * (b[i].y - b[j].y) < 0 { count += 1 }
        }
        return count
    }

    /// A toy flow model from `ToyTrainer` on gmm-2d (data = `GaussianMixture.example2D`).
    static func flowConfig(objective: String, steps: Int, batch: Int, width: Int, seed: Int) -> TrainingConfig {
        var config = TrainingConfig()
        config.data = "gmm-2d"
        config.objective = objective
        config.steps = steps
        config.batchSize = batch
        config.width = width
        config.seed = UInt64(seed)
        return config
    }

    // MARK: Figure — the probability path and its velocity field

    static let path = BookExperiment(
        name: "ch6-path",
        summary: "The marginal probability path p_t of the linear interpolant for GaussianMixture.example2D (exact densities as heat maps), the exact generation direction −u_t as arrows, and particles moved by the exact flow ODE (Heun) from t = 1.",
        defaults: ["seed": "0", "n": "400", "times": "1,0.75,0.5,0.3,0.15,0", "grid": "60", "arrows": "13"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let n = try p.int("n", in: 1...5000)
        let G = try p.int("grid", in: 10...200)
        let A = try p.int("arrows", in: 3...40)
        let ts = try doubles(p, "times", in: 0...1)
        guard ts.first == 1, zip(ts, ts.dropFirst()).allSatisfy({ $0 > $1 }) else { throw ExperimentError("times must start at 1 and decrease") }
        let m = GaussianMixture.example2D
        // Particles: Heun with 24 substeps between consecutive panel times.
        var states = [NoiseSource(seed: UInt64(seed)).prior([n, 2])]
        for i in 1..<ts.count {
            let sub = (0...24).map { ts[i - 1] + (ts[i] - ts[i - 1]) * Double($0) / 24 }
            states.append(Sampling.flowHeun(m, states[i - 1], times: sub))
        }
        let lo = -3.5, hi = 3.5
        func gridPoints(_ k: Int) -> [Point] {
            let step = (hi - lo) / Double(k)
            var out: [Point] = []
            for r in 0..<k { for c in 0..<k { out.append(Point(lo + (Double(c) + 0.5) * step, lo + (Double(r) + 0.5) * step)) } }
            return out
        }
        let cellPoints = gridPoints(G)
        let cells = Tensor(cellPoints.flatMap { [Float($0.x), Float($0.y)] }, shape: [G * G, 2])
        let origins = gridPoints(A)
        let originTensor = Tensor(origins.flatMap { [Float($0.x), Float($0.y)] }, shape: [A * A, 2])
        var panels: [Plot] = []
        var numbers: [String: Double] = ["n": Double(n)]
        for (i, t) in ts.enumerated() {
            let density = m.logDensity(cells, at: level(t)).map { exp($0) }
            let heat = (0..<G).map { r in Array(density[(r * G)..<(r * G + G)]) }
            var pl = Plot(width: 290, height: 290, title: String(format: "t = %g", t), x: Axis(range: lo...hi), y: Axis(range: lo...hi), equalAspect: true)
            pl.showLegend = false
            pl.heatmap(heat, xRange: lo...hi, yRange: lo...hi, gamma: 0.5)
            if t > 0 {
                let u = velocity(m, originTensor, t).scalars
                pl.quiver(origins, (0..<(A * A)).map { Point(-Double(u[2 * $0]), -Double(u[2 * $0 + 1])) }, colour: 1)
            }
            pl.scatter(points(states[i]), colour: 7, radius: 1.1, opacity: 0.8)
            panels.append(pl)
            numbers["peak_density_\(i)"] = density.max()!
        }
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "线性插值的概率路径 p_t（灰度）、生成方向 −u_t（箭头）与沿精确流移动的粒子"), numbers: numbers)
    }

    // MARK: Figure — crossing straight lines, the flow that rewires them, and the 1-D optimal map

    static let crossing = BookExperiment(
        name: "ch6-crossing",
        summary: "1-D example: straight lines of the independent coupling (they cross), trajectories of the exact marginal flow ODE from the same noise (they never cross), and the straight lines of the optimal (monotone) coupling, whose end points the flow reproduces.",
        defaults: ["seed": "4", "lines": "30", "steps": "200"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let L = try p.int("lines", in: 2...500)
        let N = try p.int("steps", in: 8...5000)
        let m = GaussianMixture.example1D
        let z = NoiseSource(seed: UInt64(seed)).prior([L, 1])
        let x0 = m.sample(L, seed: UInt64(seed) &+ 1)
        let (zs, xs) = (z.scalars.map(Double.init), x0.scalars.map(Double.init))
        let times = Schedule.flowTimes(steps: N)
        let states = heunPath(m, z, times: times).map { $0.scalars.map(Double.init) }
        let flowEnd = states[N]
        let otEnd = zs.map { quantileMap(m, $0) }

        func discordant(_ a: [Double], _ b: [Double]) -> Int {
            var c = 0
            for i in 0..<a.count { for j in (i + 1)..<a.count where (a[i] - a[j]) * (b[i] - b[j]) < 0 { c += 1 } }
            return c
        }
        // Order changes of the flow at any grid time (two paths crossing would swap order somewhere).
        var flowSwaps = 0
        for k in 1...N { flowSwaps += discordant(states[0], states[k]) > 0 ? 1 : 0 }
        var numbers: [String: Double] = ["lines": Double(L), "steps": Double(N)]
        numbers["crossings_independent"] = Double(discordant(zs, xs))
        numbers["crossings_flow_end"] = Double(discordant(zs, flowEnd))
        numbers["flow_times_with_swaps"] = Double(flowSwaps)
        numbers["crossings_ot"] = Double(discordant(zs, otEnd))
        numbers["flow_vs_ot_max"] = zip(flowEnd, otEnd).map { Swift.abs($0 - $1) }.max()!
        numbers["cost_independent"] = zip(zs, xs).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(L)
        numbers["cost_flow"] = zip(zs, flowEnd).map { ($0 - $1) * ($0 - $1) }.reduce(0, +) / Double(L)
        numbers["cost_independent_expected"] = 1 + m.secondMoment

        func panel(_ title: String) -> Plot {
            var pl = Plot(width: 300, height: 280, title: title, x: Axis("生成进度 1 − t", range: 0...1), y: Axis("x", range: -3.2...3.2))
            pl.showLegend = false
            return pl
        }
        var a = panel("独立耦合的直线")
        a.trajectories((0..<L).map { [Point(0, zs[$0]), Point(1, xs[$0])] }, colour: 0)
        var b = panel("边缘速度场的轨迹")
        let stride = Swift.max(1, N / 50)
        let shownTimes = Array(Swift.stride(from: 0, through: N, by: stride)) + (N % stride == 0 ? [] : [N])
        b.trajectories((0..<L).map { j in shownTimes.map { Point(1 - times[$0], states[$0][j]) } }, colour: 2)
        var c = panel("一维最优耦合的直线")
        c.trajectories((0..<L).map { [Point(0, zs[$0]), Point(1, otEnd[$0])] }, colour: 3)
        return ExperimentResult(svg: Figure([a, b, c], columns: 3).svg(title: "直线会相交，流的轨迹不会：独立耦合、边缘流与最优耦合"), numbers: numbers)
    }

    // MARK: Figure — minibatch optimal-transport couplings

    static let ot = BookExperiment(
        name: "ch6-ot",
        summary: "Pairs of GaussianMixture.example2D samples and Gaussian noise, coupled independently and by the exact minibatch OT assignment (FlowMatching.couple, Hungarian method); crossing segments; mean pair cost against the batch size; the noise assigned to one mixture component.",
        defaults: ["seed": "0", "shown": "64", "batches": "1,2,4,8,16,32,64,128,256", "points": "2048"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let S = try p.int("shown", in: 2...512)
        let Bs = try p.ints("batches")
        let P = try p.int("points", in: 2...65_536)
        guard Bs.allSatisfy({ $0 >= 1 && $0 <= 512 && P % $0 == 0 }) else { throw ExperimentError("batch sizes must divide points and lie in 1…512") }
        let m = GaussianMixture.example2D
        var numbers: [String: Double] = ["shown": Double(S), "points": Double(P)]

        // One batch drawn both ways.
        let x0 = m.sample(S, seed: UInt64(seed) &+ 1)
        let eps = NoiseSource(seed: UInt64(seed) &+ 2).prior([S, 2])
        let coupled = FlowMatching(coupling: .minibatchOT).couple(x0, eps)
        let (a, bInd, bOT) = (points(eps), points(x0), points(coupled))
        numbers["shown_crossings_independent"] = Double(crossings2D(a, bInd))
        // Segments from the OT-permuted noise to the data.
        numbers["shown_crossings_ot"] = Double(crossings2D(points(coupled), bInd))
        numbers["shown_close_independent"] = Double(closeEncounters(a, bInd))
        numbers["shown_close_ot"] = Double(closeEncounters(points(coupled), bInd))
        numbers["shown_swaps_independent"] = Double(improvableSwaps(a, bInd))
        numbers["shown_swaps_ot"] = Double(improvableSwaps(points(coupled), bInd))
        numbers["shown_pairs"] = Double(S * (S - 1) / 2)
        numbers["shown_cost_independent"] = pairCost(x0, eps)
        numbers["shown_cost_ot"] = pairCost(x0, coupled)

        // Mean cost per pair against the batch size (B = 1 is the independent coupling).
        let (all, comps) = m.sampleWithComponents(P, seed: UInt64(seed) &+ 3)
        let noise = Tensor.randomNormal([P, 2], seed: UInt64(seed) &+ 4)
        var costs: [Double] = []
        var assigned = [Float](repeating: 0, count: 2 * P)
        for B in Bs {
            var total = 0.0
            for start in Swift.stride(from: 0, to: P, by: B) {
                let idx = Array(start..<(start + B))
                let xb = all.indexSelect(axis: 0, indices: idx), eb = noise.indexSelect(axis: 0, indices: idx)
                let cost = Assignment.squaredDistances(xb, eb)
                let π = Assignment.solve(cost)
                total += Assignment.cost(cost, π)
                if B == Bs.max()! {
                    let e = eb.scalars
                    for (i, j) in π.enumerated() { assigned[2 * (start + i)] = e[2 * j]; assigned[2 * (start + i) + 1] = e[2 * j + 1] }
                }
            }
            costs.append(total / Double(P))
            numbers["cost_b\(B)"] = total / Double(P)
        }
        numbers["cost_independent_expected"] = 2 + m.secondMoment
        // The noise paired with component 0 (mean (2, 0)) under the largest batch, and its overall mean.
        let k0 = (0..<P).filter { comps[$0] == 0 }
        numbers["k0_count"] = Double(k0.count)
        numbers["k0_noise_mean_x"] = k0.map { Double(assigned[2 * $0]) }.reduce(0, +) / Double(k0.count)
        numbers["k0_noise_mean_y"] = k0.map { Double(assigned[2 * $0 + 1]) }.reduce(0, +) / Double(k0.count)
        let nz = noise.scalars
        numbers["k0_noise_mean_x_independent"] = k0.map { Double(nz[2 * $0]) }.reduce(0, +) / Double(k0.count)
        numbers["assigned_mean_x"] = (0..<P).map { Double(assigned[2 * $0]) }.reduce(0, +) / Double(P)
        numbers["noise_mean_x"] = (0..<P).map { Double(nz[2 * $0]) }.reduce(0, +) / Double(P)
        numbers["batch_max"] = Double(Bs.max()!)

        func pairs(_ title: String, _ from: [Point], colour: Int) -> Plot {
            var pl = Plot(width: 300, height: 300, title: title, x: Axis(range: -3.5...3.5), y: Axis(range: -3.5...3.5), equalAspect: true)
            pl.showLegend = false
            pl.trajectories((0..<S).map { [from[$0], bInd[$0]] }, colour: colour)
            return pl
        }
        var curve = Plot(width: 340, height: 300, title: "每对的平均代价", x: Axis("批大小 B", scale: .log), y: Axis("E‖x₀ − ε‖²", range: 0...8))
        curve.line(x: Bs.map(Double.init), y: costs, colour: 3, label: "小批量最优传输")
        curve.scatter(zip(Bs, costs).map { Point(Double($0), $1) }, colour: 3, radius: 2.6, opacity: 1)
        curve.line(x: [Double(Bs.min()!), Double(Bs.max()!)], y: [2 + m.secondMoment, 2 + m.secondMoment], colour: 7, style: .dashed, label: "独立耦合的期望")
        let panels = [pairs("独立耦合：\(Int(numbers["shown_close_independent"]!)) 对途中接近", a, colour: 0),
                      pairs("最优传输耦合：\(Int(numbers["shown_close_ot"]!)) 对途中接近", points(coupled), colour: 2), curve]
        return ExperimentResult(svg: Figure(panels, columns: 3).svg(title: "同一批数据与噪声的两种配对，以及配对代价随批大小的变化"), numbers: numbers)
    }

    // MARK: Figure — flow matching with and without minibatch OT, trained

    static let train = BookExperiment(
        name: "ch6-train",
        summary: "Two ToyMLPs trained by ToyTrainer on gmm-2d with the objectives flow and flow-ot; Euler samples (Sampling.flowEuler) at several step counts against the exact mixture flow; energy distances, the real-vs-real floor and the straightness of each flow.",
        defaults: ["seed": "0", "steps": "800", "batch": "128", "width": "128", "n": "1000", "nfe": "1,2,4,8,16,32", "show": "2"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let steps = try p.int("steps", in: 1...100_000)
        let batch = try p.int("batch", in: 2...512)
        let width = try p.int("width", in: 1...1024)
        let n = try p.int("n", in: 10...20_000)
        let nfes = try p.ints("nfe")
        let show = try p.int("show", in: 1...1000)
        guard nfes.allSatisfy({ (1...1000).contains($0) }) else { throw ExperimentError("nfe values must lie in 1…1000") }
        let m = GaussianMixture.example2D
        var numbers: [String: Double] = ["steps": Double(steps), "batch": Double(batch), "width": Double(width), "n": Double(n), "show": Double(show)]
        var models: [(key: String, label: String, model: any Denoiser)] = [("exact", "精确速度场", m)]
        for objective in ["flow", "flow-ot"] {
            let trainer: ToyTrainer
            do { trainer = try ToyTrainer(flowConfig(objective: objective, steps: steps, batch: batch, width: width, seed: seed)) } catch { throw ExperimentError("\(error)") }
            var losses: [Double] = []
            trainer.train(onStep: { _, loss in losses.append(loss) })
            let key = objective == "flow" ? "flow" : "flow_ot"
            numbers["loss_last_\(key)"] = losses.suffix(100).reduce(0, +) / Double(Swift.min(100, losses.count))
            models.append((key, objective == "flow" ? "流匹配（独立耦合）" : "流匹配（小批量最优传输）", trainer.samplingModel()))
        }
        let data = m.sample(n, seed: UInt64(seed) &+ 9)
        let floor = SampleMetric.energy.expectedFloor(n: n, points: 2000) { k, s in m.sample(k, seed: s) }!
        numbers["ed_floor"] = floor
        let z = NoiseSource(seed: UInt64(seed) &+ 5).prior([n, 2])
        var curve = Plot(width: 320, height: 300, title: "能量距离与步数（Euler）", x: Axis("步数 = 模型调用次数", scale: .log), y: Axis("能量距离", scale: .log))
        var clouds: [Plot] = []
        let mean = (0..<2).map { j in m.weights.indices.reduce(0.0) { $0 + m.weights[$1] * m.means[$1][j] } }
        for (c, entry) in models.enumerated() {
            var pts: [Point] = []
            for N in nfes {
                let out = withNoGrad { Sampling.flowEuler(entry.model, z, times: Schedule.flowTimes(steps: N)) }
                let ed = Metrics.energyDistance(out, data)
                numbers["ed_\(entry.key)_\(N)"] = ed
                pts.append(Point(Double(N), ed))
                if N == 1 {
                    // One Euler step from t = 1 lands on x − u₁(x) = E[x₀] for the exact field.
                    let v = out.scalars
                    numbers["one_step_spread_\(entry.key)"] = (0..<n).map { i in
                        ((Double(v[2 * i]) - mean[0]) * (Double(v[2 * i]) - mean[0]) + (Double(v[2 * i + 1]) - mean[1]) * (Double(v[2 * i + 1]) - mean[1])).squareRoot()
                    }.max()!
                }
                if N == show { clouds.append(cloud("\(entry.label)，\(N) 步", out, m)) }
            }
            // Heun (2N − 1 calls) at a few step counts: how much a second-order method helps each flow.
            for N in [2, 4, 8] {
                let out = withNoGrad { Sampling.flowHeun(entry.model, z, times: Schedule.flowTimes(steps: N)) }
                numbers["ed_heun_\(entry.key)_\(N)"] = Metrics.energyDistance(out, data)
            }
            curve.line(pts, colour: [6, 0, 2][c], style: c == 0 ? .dashed : .solid, label: entry.label)
            curve.scatter(pts, colour: [6, 0, 2][c], radius: 2.4, opacity: 1)
            let st = withNoGrad { straightness(entry.model, z.indexSelect(axis: 0, indices: Array(0..<Swift.min(n, 256)))) }
            numbers["straightness_\(entry.key)"] = st.s
            numbers["straightness_rel_\(entry.key)"] = st.s / st.cost
            numbers["transport_cost_\(entry.key)"] = st.cost
        }
        curve.line(x: [Double(nfes.min()!), Double(nfes.max()!)], y: [floor, floor], colour: 7, style: .dotted, label: "两批真实样本（期望值）")
        numbers["mean_x"] = mean[0]
        numbers["mean_y"] = mean[1]
        return ExperimentResult(svg: Figure([curve] + clouds, columns: 2).svg(title: "独立耦合与小批量最优传输耦合训练的流：Euler 步数与样本质量"), numbers: numbers)
    }

    // MARK: Figure — reflow

    /// Trains a `ToyMLP` velocity model on fixed pairs (noise z_i, data x_i): the rectified-flow loss
    /// ‖v(x_t, t) − (z − x)‖² at x_t = (1 − t)·x + t·z, t ~ U(0, 1], AdamW with the `ToyTrainer` settings of `config`
    /// (warm-up and cosine decay, clipping, EMA). Returns the EMA model and the per-step losses.
    public static func trainOnPairs(noise z: Tensor, data x: Tensor, config: TrainingConfig) throws -> (model: NetworkModel<ToyMLP>, losses: [Double]) {
        let trainer: ToyTrainer
        do { trainer = try ToyTrainer(config) } catch { throw ExperimentError("\(error)") }
        let process = RectifiedFlow()
        let P = x.shape[0], B = config.batchSize
        let schedule = CosineLR(peak: config.learningRate, totalSteps: config.steps, warmupSteps: config.effectiveWarmupSteps)
        var losses: [Double] = []
        for step in 0..<config.steps {
            var rng = RandomGenerator(seed: config.seed &+ 11, stream: UInt64(step) << 24)
            let idx = rng.integers([B], in: 0..<P).scalars.map { Int($0) }
            let times = rng.uniform([B]).scalars.map { 1 - Double($0) }          // (0, 1]
            let (xb, zb) = (x.indexSelect(axis: 0, indices: idx), z.indexSelect(axis: 0, indices: idx))
            let levels = LevelBatch(process: process, times: times)
            let prediction = trainer.model.predict(.velocity, levels.noisy(x0: xb, epsilon: zb), at: levels, labels: nil)
            let loss = (prediction - (zb - xb)).squaredNormPerSample().mean()
            trainer.optimizer.zeroGrad()
            loss.backward()
            if config.gradClip > 0 { _ = clipGradNorm(trainer.optimizer.parameters, maxNorm: config.gradClip) }
            trainer.optimizer.learningRate = schedule.lr(at: step)
            trainer.optimizer.step()
            trainer.ema?.update()
            losses.append(Double(loss.item))
        }
        return (trainer.samplingModel(), losses)
    }

    static let reflow = BookExperiment(
        name: "ch6-reflow",
        summary: "Reflow on GaussianMixture.example2D: pairs (z, Φ(z)) of the exact 1-rectified flow (Heun), a ToyMLP trained on them (the 2-rectified flow), their trajectories, straightness, transport costs and Euler sample quality.",
        defaults: ["seed": "0", "pairs": "4096", "steps": "600", "batch": "128", "width": "128", "n": "1000", "paths": "40", "nfe": "1,2,4,8", "ode_steps": "64"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let P = try p.int("pairs", in: 16...100_000)
        let steps = try p.int("steps", in: 1...100_000)
        let batch = try p.int("batch", in: 2...4096)
        let width = try p.int("width", in: 1...1024)
        let n = try p.int("n", in: 10...20_000)
        let paths = try p.int("paths", in: 1...500)
        let nfes = try p.ints("nfe")
        let K = try p.int("ode_steps", in: 4...2000)
        guard nfes.allSatisfy({ (1...1000).contains($0) }) else { throw ExperimentError("nfe values must lie in 1…1000") }
        let m = GaussianMixture.example2D
        var numbers: [String: Double] = ["pairs": Double(P), "steps": Double(steps), "n": Double(n), "ode_steps": Double(K), "paths": Double(paths)]
        // Pairs of the exact 1-rectified flow: noise z and its image Φ(z) under the marginal flow ODE.
        let zPool = NoiseSource(seed: UInt64(seed) &+ 21).prior([P, 2])
        let xPool = Sampling.flowHeun(m, zPool, times: Schedule.flowTimes(steps: K))
        let check = zPool.indexSelect(axis: 0, indices: Array(0..<Swift.min(P, 256)))
        numbers["pair_solver_error"] = Chapter8.rms(Sampling.flowHeun(m, check, times: Schedule.flowTimes(steps: K)),
                                                    Sampling.flowHeun(m, check, times: Schedule.flowTimes(steps: 4 * K)))
        numbers["pair_cost"] = pairCost(zPool, xPool)
        numbers["cost_independent_expected"] = 2 + m.secondMoment
        var config = flowConfig(objective: "flow", steps: steps, batch: batch, width: width, seed: seed)
        config.seed = UInt64(seed) &+ 1
        let (model2, losses) = try trainOnPairs(noise: zPool, data: xPool, config: config)
        numbers["loss_last"] = losses.suffix(100).reduce(0, +) / Double(Swift.min(100, losses.count))

        let data = m.sample(n, seed: UInt64(seed) &+ 9)
        let z = NoiseSource(seed: UInt64(seed) &+ 5).prior([n, 2])
        numbers["ed_floor"] = SampleMetric.energy.expectedFloor(n: n, points: 2000) { k, s in m.sample(k, seed: s) }!
        var curve = Plot(width: 300, height: 300, title: "能量距离与步数（Euler）", x: Axis("步数", scale: .log), y: Axis("能量距离", scale: .log))
        var oneStep2 = z
        for (c, (key, label, model)) in [("1", "1-整流（精确）", m as any Denoiser), ("2", "2-整流（reflow 训练）", model2)].enumerated() {
            var pts: [Point] = []
            for N in nfes {
                let out = withNoGrad { Sampling.flowEuler(model, z, times: Schedule.flowTimes(steps: N)) }
                let ed = Metrics.energyDistance(out, data)
                numbers["ed_\(key)flow_\(N)"] = ed
                pts.append(Point(Double(N), ed))
                if key == "2" && N == 1 { oneStep2 = out }
            }
            curve.line(pts, colour: [0, 2][c], label: label)
            curve.scatter(pts, colour: [0, 2][c], radius: 2.4, opacity: 1)
            let st = withNoGrad { straightness(model, z.indexSelect(axis: 0, indices: Array(0..<Swift.min(n, 256)))) }
            numbers["straightness_\(key)"] = st.s
            numbers["straightness_rel_\(key)"] = st.s / st.cost
            numbers["transport_cost_\(key)"] = st.cost
        }
        curve.line(x: [Double(nfes.min()!), Double(nfes.max()!)], y: [numbers["ed_floor"]!, numbers["ed_floor"]!], colour: 7, style: .dotted, label: "两批真实样本")
        // How closely the 2-flow reproduces the coupling it was trained on.
        let zc = z.indexSelect(axis: 0, indices: Array(0..<Swift.min(n, 256)))
        let end1 = Sampling.flowHeun(m, zc, times: Schedule.flowTimes(steps: K))
        let end2 = withNoGrad { Sampling.flowHeun(model2, zc, times: Schedule.flowTimes(steps: 32)) }
        numbers["coupling_gap"] = Chapter8.rms(end1, end2)

        // Trajectories from the same starting points.
        let shown = z.indexSelect(axis: 0, indices: Array(0..<Swift.min(n, paths)))
        func trajectoryPanel(_ title: String, _ model: some Denoiser, colour: Int) -> Plot {
            let states = withNoGrad { heunPath(model, shown, times: Schedule.flowTimes(steps: 32)) }.map(\.scalars)
            var pl = Plot(width: 300, height: 300, title: title, x: Axis(range: -3.5...3.5), y: Axis(range: -3.5...3.5), equalAspect: true)
            pl.showLegend = false
            pl.trajectories((0..<shown.shape[0]).map { j in states.map { Point(Double($0[2 * j]), Double($0[2 * j + 1])) } }, colour: colour)
            return pl
        }
        let panels = [trajectoryPanel("1-整流（精确边缘流）的轨迹", m, colour: 0), trajectoryPanel("2-整流的轨迹", model2, colour: 2),
                      curve, cloud("2-整流，1 步 Euler", oneStep2, m, size: 300)]
        return ExperimentResult(svg: Figure(panels, columns: 2).svg(title: "Reflow：用精确流生成的配对再训练一次，轨迹被拉直"), numbers: numbers)
    }

    /// The exact mixture denoiser with its closed-form divergence, counting denoiser calls (one per batch).
    final class CountingMixture: Denoiser, DivergenceProviding {
        let mixture: GaussianMixture
        private(set) var calls = 0
        init(_ mixture: GaussianMixture) { self.mixture = mixture }
        func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { calls += 1; return mixture.denoise(x, at: level) }
        func denoiserDivergence(_ x: Tensor, at level: NoiseLevel) -> [Double] { mixture.denoiserDivergence(x, at: level) }
    }

    // MARK: Numbers for the text and the exercises

    static let numbers = BookExperiment(
        name: "ch6-numbers",
        summary: "Numbers the chapter quotes: the irreducible flow-matching loss (quadrature) against the exact model's Monte-Carlo loss, kinetic energies, flow Euler = DDIM, conversions between velocity, x₀, ε and score, the PF-ODE likelihood and its model calls, and a family of SDE samplers with the flow's marginals.",
        defaults: ["seed": "0", "mc": "20000", "sde_steps": "400", "sde_n": "2000"]
    ) { p in
        let seed = try p.int("seed", in: 0...1_000_000)
        let mc = try p.int("mc", in: 100...1_000_000)
        let sdeSteps = try p.int("sde_steps", in: 2...10_000)
        let sdeN = try p.int("sde_n", in: 10...20_000)
        var numbers: [String: Double] = ["mc": Double(mc), "sde_steps": Double(sdeSteps), "sde_n": Double(sdeN)]
        let m2 = GaussianMixture.example2D, m1 = GaussianMixture.example1D

        // The conditional flow-matching loss: its minimum (quadrature) and the exact model's Monte-Carlo loss.
        let fm = FlowMatching()
        numbers["cfm_floor_1d"] = fm.irreducibleLoss(for: m1)!          // 400 quadratures; 1-D keeps it fast
        for (key, m) in [("1d", m1), ("2d", m2)] {
            var rng = RandomGenerator(seed: UInt64(seed) &+ 31)
            let losses = fm(ExactMixtureModel(m, prediction: .velocity), m.sample(mc, seed: UInt64(seed) &+ 32), rng: &rng).scalars.map(Double.init)
            let mean = losses.reduce(0, +) / Double(mc)
            numbers["cfm_mc_\(key)"] = mean
            numbers["cfm_mc_se_\(key)"] = (losses.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(mc - 1) / Double(mc)).squareRoot()
            numbers["conditional_energy_\(key)"] = Double(m.dimension) + m.secondMoment
        }
        // Kinetic energy of the marginal field: E‖u_t‖² = E‖ε − x₀‖² − mmse(t)/t² (quadrature) and by Monte Carlo.
        for t in [0.25, 0.5, 0.75, 1.0] {
            let tag = String(format: "%g", t).replacingOccurrences(of: ".", with: "p")
            numbers["ke_identity_\(tag)"] = 2 + m2.secondMoment - m2.minimumMeanSquaredError(at: level(t)) / (t * t)
            let x0 = m2.sample(mc, seed: UInt64(seed) &+ 40), e = Tensor.randomNormal([mc, 2], seed: UInt64(seed) &+ 41)
            let xt = Parametrization.noisy(x0: x0, epsilon: e, level: level(t))
            numbers["ke_mc_\(tag)"] = Double(velocity(m2, xt, t).squaredNormPerSample().mean().item)
        }

        // Flow Euler on the linear path is DDIM in σ = t/(1 − t): same start, same levels.
        let times = Schedule.flowTimes(steps: 10, tMax: 0.95)
        // A start at t₀ = 0.95 (noise scaled by σ = t₀; the identity holds for any start, it is about the update rules).
        let start = NoiseSource(seed: UInt64(seed) &+ 50).prior([256, 2]) * Float(0.95)
        let flow = Sampling.flowEuler(m2, start, times: times)
        let ddim = Sampling.ddim(m2, start * Float(1 / (1 - times[0])), sigmas: Schedule.sigmas(fromFlowTimes: times))
        numbers["euler_ddim_maxdiff"] = zip(flow.scalars, ddim.scalars).map { Double(Swift.abs($0 - $1)) }.max()!
        numbers["euler_ddim_scale"] = flow.scalars.map { Double(Swift.abs($0)) }.max()!

        // Conversions at one time: x̂₀ = x − t·u, ε̂ = x + (1 − t)·u, score = −(x + (1 − t)·u)/t.
        let tc = 0.4
        let xc = NoiseSource(seed: UInt64(seed) &+ 60).prior([64, 2]) * Float(1.5)
        let u = velocity(m2, xc, tc)
        let scoreFromU = (xc + u * Float(1 - tc)) * Float(-1 / tc)
        let scoreExact = m2.score(xc, at: level(tc))
        numbers["score_from_velocity_maxdiff"] = zip(scoreFromU.scalars, scoreExact.scalars).map { Double(Swift.abs($0 - $1)) }.max()!
        let x0FromU = Parametrization.x0(from: u, .velocity, x: xc, level: level(tc), rates: RectifiedFlow().rates(tc))
        numbers["x0_from_velocity_maxdiff"] = zip(x0FromU.scalars, m2.denoise(xc, at: level(tc)).scalars).map { Double(Swift.abs($0 - $1)) }.max()!

        // Likelihood through the probability-flow ODE (the CNF of the exact field) against the exact log-density.
        let xl = m2.sample(8, seed: UInt64(seed) &+ 70)
        let counter = CountingMixture(m2)
        let stepsNLL = 200
        let nll = Likelihood.negativeLogLikelihood(counter, xl, sigmaMin: 1e-3, sigmaMax: 80, steps: stepsNLL,
                                                   dataMean: (0..<2).map { j in m2.weights.indices.reduce(0.0) { $0 + m2.weights[$1] * m2.means[$1][j] } },
                                                   dataVariance: m2.totalVariance / 2)
        let exact = m2.logDensity(xl, at: NoiseLevel(alpha: 1, sigma: 1e-3)).map { -$0 }
        numbers["nll_maxdiff"] = zip(nll, exact).map { Swift.abs($0 - $1) }.max()!
        numbers["nll_mean"] = nll.reduce(0, +) / Double(nll.count)
        numbers["nll_exact_mean"] = exact.reduce(0, +) / Double(exact.count)
        numbers["nll_calls"] = Double(counter.calls)
        numbers["nll_steps"] = Double(stepsNLL)

        // A family of SDE samplers with the marginals of the flow: in s = 1 − t, dX = (−u + (g²/2)·∇log p_t) ds + g dW,
        // with g(t)² = 2c·t (so (g²/2)·∇log p = −c·ε̂ stays bounded as t → 0). c = 0 is the flow ODE (Euler).
        let data = m2.sample(sdeN, seed: UInt64(seed) &+ 80)
        numbers["sde_floor"] = SampleMetric.energy.expectedFloor(n: sdeN, points: 2000) { k, s in m2.sample(k, seed: s) }!
        let grid = Schedule.flowTimes(steps: sdeSteps)
        for c in [0.0, 0.5, 1, 2] {
            let noise = NoiseSource(seed: UInt64(seed) &+ 90)
            var x = noise.prior([sdeN, 2])
            for i in 0..<sdeSteps {
                let (t, tNext) = (grid[i], grid[i + 1])
                let D = m2.denoise(x, at: level(t))
                if tNext == 0 { x = D; break }
                let uu = (x - D) * Float(1 / t)
                let epsHat = x + uu * Float(1 - t)                     // ε̂ = x + (1 − t)·u
                let ds = t - tNext
                x = x + (uu * Float(-1) - epsHat * Float(c)) * Float(ds)
                if c > 0 { x = x + noise.normal(like: x, step: i) * Float((2 * c * t * ds).squareRoot()) }
            }
            numbers["sde_ed_c\(String(format: "%g", c).replacingOccurrences(of: ".", with: "p"))"] = Metrics.energyDistance(x, data)
        }
        return ExperimentResult(numbers: numbers)
    }
}
