import Foundation
import Testing
@testable import Diffusion

@Suite("Step schedules")
struct ScheduleTests {
    /// Ends exactly at 0, strictly descending, N + 1 levels, finite.
    func expectValid(_ σ: [Double], steps N: Int, _ what: String) {
        #expect(σ.count == N + 1, "\(what) N = \(N): \(σ.count) levels")
        #expect(σ.last == 0, "\(what) N = \(N) does not end at 0")
        #expect(throws: Never.self, "\(what) N = \(N)") { try Schedule.validate(σ) }
        #expect(Set(σ).count == σ.count, "\(what) N = \(N) repeats a level")
    }

    @Test("continuous schedules end at 0 and never repeat, for N = 1…300")
    func continuousSchedules() {
        for N in 1...300 {
            expectValid(Schedule.karras(steps: N), steps: N, "karras")
            expectValid(Schedule.exponential(steps: N, sigmaMin: 0.01, sigmaMax: 50), steps: N, "exponential")
            expectValid(Schedule.logSNRUniform(steps: N, process: CosineProcess(), tMin: 1e-3, tMax: 0.999), steps: N, "logSNR")
            expectValid(Schedule.uniformTime(steps: N, process: DiscreteVP.linear()), steps: N, "uniformTime vp")
            expectValid(Schedule.uniformTime(steps: N, process: RectifiedFlow(), tMin: 0, tMax: 0.99), steps: N, "uniformTime flow")
            expectValid(Schedule.uniformTime(steps: N, process: VEProcess(), tMin: 0), steps: N, "uniformTime ve")
            let times = Schedule.flowTimes(steps: N, shift: 3)
            #expect(times.first == 1 && times.last == 0 && times.count == N + 1 && zip(times, times.dropFirst()).allSatisfy { $0 > $1 })
        }
    }

    @Test("Karras and exponential hit σ_max and σ_min exactly; exponential is uniform in log-SNR")
    func endpoints() {
        let k = Schedule.karras(steps: 18, sigmaMin: 0.002, sigmaMax: 80)
        #expect(k[0] == 80 && k[17] == 0.002 && k[18] == 0)
        let e = Schedule.exponential(steps: 10, sigmaMin: 0.1, sigmaMax: 10)
        let gaps = (1..<10).map { log(e[$0 - 1] / e[$0]) }
        #expect(gaps.allSatisfy { abs($0 - gaps[0]) < 1e-12 })
        let p = CosineProcess()
        let l = Schedule.logSNRUniform(steps: 5, process: p, tMin: 0.01, tMax: 0.99)
        #expect(abs(l[0] - p.edmSigma(0.99)) < 1e-9 * l[0] && abs(l[4] - p.edmSigma(0.01)) < 1e-12)
    }

    @Test("discrete spacings give distinct training indices for every N ≤ T", arguments: Schedule.Spacing.allCases)
    func discreteSpacings(_ spacing: Schedule.Spacing) {
        let p = DiscreteVP.linear()
        for N in Array(1...120) + [250, 333, 500, 999, 1000] {
            let ts = Schedule.timesteps(steps: N, trainingSteps: 1000, spacing: spacing)
            #expect(ts.count == N && Set(ts).count == N, "\(spacing) N = \(N) repeats a timestep")
            #expect(zip(ts, ts.dropFirst()).allSatisfy { $0 > $1 } && ts.allSatisfy { (0..<1000).contains($0) })
            expectValid(Schedule.discrete(steps: N, process: p, spacing: spacing), steps: N, "\(spacing)")
        }
        let ten = Schedule.timesteps(steps: 10, trainingSteps: 1000, spacing: spacing)
        switch spacing {
        case .uniform: #expect(ten.first == 999 && ten.last == 0)
        case .leading: #expect(ten == [900, 800, 700, 600, 500, 400, 300, 200, 100, 0])
        case .trailing: #expect(ten == [999, 899, 799, 699, 599, 499, 399, 299, 199, 99])
        }
    }

    @Test("zero-terminal-SNR with trailing spacing starts at σ = ∞, which σ-space validation rejects")
    func infiniteStart() throws {
        let σ = Schedule.discrete(steps: 25, process: DiscreteVP.linear().rescaledToZeroTerminalSNR(), spacing: .trailing)
        #expect(σ[0] == .infinity && σ.last == 0)
        #expect(throws: DiffusionError.self) { try Schedule.validate(σ) }
        try Schedule.validate(σ, allowInfiniteStart: true)
        let t = Schedule.flowTimes(fromSigmas: σ)
        #expect(t[0] == 1 && t.last == 0)
        let back = Schedule.sigmas(fromFlowTimes: t)
        #expect(back[0] == .infinity && zip(back.dropFirst(), σ.dropFirst()).allSatisfy { abs($0 - $1) <= 1e-12 * max(1, $1) })
    }

    @Test("validation rejects repeated, rising, negative and NaN levels")
    func validation() {
        for bad in [[1.0, 1.0, 0], [1, 2, 0], [1, -0.5], [Double.nan, 0], [0.5]] {
            #expect(throws: DiffusionError.self, "\(bad)") { try Schedule.validate(bad) }
        }
    }
}
