import Foundation
import Testing
@testable import Diffusion

@Suite("Network models: gradients reach every parameter, levels are served consistently")
struct NetworkModelTests {
    static func model(_ process: any NoiseProcess, _ output: Prediction, edm: Bool = false, classes: Int = 0) -> NetworkModel<ToyMLP> {
        let net = withParameterSeed(3) { ToyMLP(width: 16, blocks: 1, embeddingDim: 8, classes: classes) }
        return try! NetworkModel(net, process: process, output: output, preconditioning: edm ? EDMPreconditioning() : nil)
    }

    static var cases: [(String, any Objective, NetworkModel<ToyMLP>)] { [
        ("ddpm", DenoisingLoss.ddpm(), model(DiscreteVP.linear(), .epsilon)),
        ("v, min-SNR", DenoisingLoss(process: CosineProcess(), space: .v, weighting: .minSNR(gamma: 5)), model(CosineProcess(), .v)),
        ("x₀", DenoisingLoss(process: DiscreteVP.cosine(), space: .sample), model(DiscreteVP.cosine(), .sample)),
        ("vlb", VariationalBound(), model(DiscreteVP.linear(), .epsilon)),
        ("edm", EDMLoss(), model(EDMProcess(), .sample, edm: true)),
        ("dsm", DenoisingScoreMatching(), model(VEProcess(), .epsilon)),
        ("ssm", SlicedScoreMatching(), model(VEProcess(), .score)),
        ("flow", FlowMatching(), model(RectifiedFlow(), .velocity)),
        ("flow-ot", FlowMatching(coupling: .minibatchOT), model(RectifiedFlow(), .velocity)),
        ("conditional flow", FlowMatching(), model(RectifiedFlow(), .velocity, classes: 8)),
    ] }

    @Test("every objective's loss sends a finite, non-zero gradient to every parameter", arguments: 0..<cases.count)
    func gradientsFlow(_ i: Int) {
        let (name, objective, model) = Self.cases[i]
        model.network.zeroGrad()
        var rng = RandomGenerator(seed: 1)
        let (x0, y) = ToyDataset.eightGaussians.sample(64, seed: 2)
        let loss = objective(model, x0, labels: model.network.classCount > 0 ? y : nil, rng: &rng).mean()
        #expect(loss.item.isFinite, "\(name)")
        loss.backward()
        for (pname, p) in model.network.namedParameters() {
            let g = p.grad?.scalars ?? []
            #expect(!g.isEmpty && g.allSatisfy { $0.isFinite } && g.contains { $0 != 0 }, "\(name): \(pname)")
        }
    }

    @Test("the gradient matches a central difference of the loss (same draws)")
    func finiteDifference() {
        let model = Self.model(DiscreteVP.linear(), .epsilon)
        let objective = DenoisingLoss.ddpm()
        let x0 = ToyDataset.moons.sample(32, seed: 4).points
        func loss() -> Double { var rng = RandomGenerator(seed: 9); return Double(objective(model, x0, rng: &rng).mean().item) }
        model.network.zeroGrad()
        var rng = RandomGenerator(seed: 9)
        objective(model, x0, rng: &rng).mean().backward()
        let p = model.network.out.weight
        let analytic = Double(p.grad![0, 3])
        let h: Float = 1e-2
        let original = p.value
        var plus = original, minus = original
        plus[0, 3] += h
        minus[0, 3] -= h
        p.copy(from: plus)
        let lp = loss()
        p.copy(from: minus)
        let lm = loss()
        p.copy(from: original)
        let numeric = (lp - lm) / Double(2 * h)
        #expect(abs(analytic - numeric) < 0.02 * max(abs(numeric), 1e-3), "\(analytic) vs \(numeric)")
    }

    @Test("a level served through the log-SNR map equals the same level given as process time")
    func levelsAgree() {
        for (process, output) in [(DiscreteVP.linear() as any NoiseProcess, Prediction.epsilon), (CosineProcess(), .v), (RectifiedFlow(), .velocity)] {
            let model = Self.model(process, output)
            let times = [0.05, 0.3, 0.6, 0.9]
            let native = LevelBatch(process: process, times: times)
            var rng = RandomGenerator(seed: 5)
            let x = rng.normal([4, 2])
            let direct = model.denoised(x, at: native)
            let viaSNR = model.denoised(x, at: LevelBatch(alpha: native.alpha, sigma: native.sigma))
            #expect(rms(direct, viaSNR) < 1e-4 * max(1, Double(direct.scalars.map { abs($0) }.max()!)), "\(process.name)")
            // α = 1 coordinates (what σ-space samplers use): x/α at σ/α gives the same x̂₀.
            for i in 0..<4 {
                let row = x.slice(axis: 0, i, i + 1)
                let edm = model.denoise(row * Float(1 / native.alpha[i]), sigma: native.sigma[i] / native.alpha[i])
                #expect(rms(edm, direct.slice(axis: 0, i, i + 1)) < 2e-4 * max(1, Double(edm.scalars.map { abs($0) }.max()!)))
            }
        }
    }

    @Test("ε- and score-outputs are refused on zero-terminal-SNR processes")
    func zeroTerminalSNR() {
        let net = ToyMLP(width: 8, blocks: 0, embeddingDim: 4)
        #expect(throws: DiffusionError.self) { try NetworkModel(net, process: RectifiedFlow(), output: .epsilon) }
        #expect(throws: DiffusionError.self) { try NetworkModel(net, process: DiscreteVP.linear().rescaledToZeroTerminalSNR(), output: .score) }
        #expect((try? NetworkModel(net, process: DiscreteVP.linear().rescaledToZeroTerminalSNR(), output: .v)) != nil)
    }
}
