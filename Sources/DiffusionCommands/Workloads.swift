import ArgumentParser
import CKernels
import Diffusion
import DiffusionLayers
import Foundation

/// `diffusion bench workload w1|w2`: one timed training run, printed as a single result line that
/// `bench train` parses. Same architecture, parameter count, batch, optimiser and step counts as the
/// PyTorch scripts in ../shared/bench.
struct WorkloadBench: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workload", abstract: "Run one training workload (w1 or w2) and print steps/s and peak RSS.")

    @Argument(help: "w1 (toy MLP) or w2 (small UNet).") var workload: Workload
    @Option(help: "Timed steps (default: the PyTorch script's, 300 for w1 and 40 for w2).") var steps: Int?
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        if let steps, !(1...100_000).contains(steps) { throw ValidationError("--steps must be in 1…100000, got \(steps)") }
    }

    func run() throws {
        compute.apply()
        let (warmup, defaultSteps, step): (Int, Int, () -> Void)
        switch workload {
        case .w1:
            let w = W1Workload()
            (warmup, defaultSteps, step) = (30, 300, w.step)
        case .w2:
            let w = try W2Workload()
            (warmup, defaultSteps, step) = (5, 40, w.step)
        }
        let steps = self.steps ?? defaultSteps
        for _ in 0..<warmup { step() }
        let t0 = dl_now()
        for _ in 0..<steps { step() }
        let dt = dl_now() - t0
        let rss = Double(dl_peak_rss_bytes()) / 1_048_576
        print(String(format: "%@ swift threads=%d steps/s=%.2f ms/step=%.3f rss_mb=%.1f", workload.rawValue.uppercased(), Engine.threads, Double(steps) / dt, 1000 * dt / Double(steps), rss))
    }
}

/// W1: the 2-D toy denoiser MLP of torch_w1_mlp.py, now the library's standard toy model (same names, sizes and
/// initialisation order).
typealias W1Model = ToyMLP

/// The DDPM linear-β schedule's ᾱ_t for T steps, as in the bench scripts.
func benchAlphaBar(_ T: Int) -> Tensor {
    (1 - Tensor.linspace(1e-4, 0.02, count: T)).cumprod(axis: 0)
}

/// One ε-prediction training step of W1 per call.
final class W1Workload {
    let batch = 512, T = 1000
    let model = withParameterSeed(0) { W1Model() }
    let optimizer: AdamW
    let data: Tensor
    let alphaBar: Tensor
    var rng = RandomGenerator(seed: 0)

    init() {
        optimizer = AdamW(model.parameters(), lr: 1e-3)
        data = rng.normal([10_000, 2])
        alphaBar = benchAlphaBar(T)
    }

    func step() {
        let x0 = data.indexSelect(axis: 0, indices: rng.integers([batch], in: 0..<10_000))
        let t = rng.integers([batch], in: 0..<T)
        let eps = rng.normal([batch, 2])
        let a = alphaBar.indexSelect(axis: 0, indices: t).unsqueezed(1)
        let xt = a.sqrt() * x0 + (1 - a).sqrt() * eps
        let loss = (model(xt, t) - eps).square().mean()
        optimizer.zeroGrad()
        loss.backward()
        optimizer.step()
    }
}
