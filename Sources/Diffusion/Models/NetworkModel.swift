import Foundation
import DiffusionEngine

/// A network trained on a `NoiseProcess`, usable by every objective (`NoisePredictor`), every sampler
/// (`Denoiser`) and guidance (`ConditionalDenoiser`).
///
/// Without preconditioning the network sees the process's own coordinates: a request at level (α, σ) is served at
/// the process time t with the same log-SNR, input rescaled to x_t = x·σ_t/σ, conditioning c = `timeScale`·t, and its
/// output (of kind `output`) is converted back to the caller's level. With EDM preconditioning (Karras et al. 2022,
/// arXiv 2206.00364) D(x; σ) = c_skip·x + c_out·F(c_in·x; c), c = `timeScale`·c_noise(σ) = `timeScale`·¼ln σ, in α = 1
/// coordinates, and the model predicts x₀. All conversions are differentiable, in x and in the parameters.
public final class NetworkModel<Net: NoiseConditionalNetwork>: NoisePredictor, Denoiser, ConditionalDenoiser {
    public let network: Net
    public let process: any NoiseProcess
    /// What the raw network output means (ignored with preconditioning, where it is F).
    public let output: Prediction
    public let preconditioning: EDMPreconditioning?
    public let timeScale: Double

    /// Throws for ε- or score-outputs on a process with zero terminal SNR.
    public init(_ network: Net, process: any NoiseProcess, output: Prediction, preconditioning: EDMPreconditioning? = nil,
                timeScale: Double = 1000) throws(DiffusionError) {
        if preconditioning == nil && output.dividesByAlpha && process.hasZeroTerminalSNR {
            throw .predictionUndefinedAtZeroTerminalSNR(prediction: output.rawValue, process: process.name)
        }
        (self.network, self.process, self.output, self.preconditioning, self.timeScale) = (network, process, output, preconditioning, timeScale)
    }

    public var prediction: Prediction { preconditioning == nil ? output : .sample }

    /// Class labels with the null class for nil; a network without classes gets `labels` as given (nil, or another
    /// condition such as token ids).
    func labelsOrNull(_ labels: Tensor?, _ n: Int) -> Tensor? {
        guard network.classCount > 0 else { return labels }
        return labels ?? Tensor.full([n], Float(network.classCount))
    }

    public func predict(_ x: Tensor, at levels: LevelBatch, labels: Tensor?) -> Tensor { predict(prediction, x, at: levels, labels: labels) }

    public func predict(_ kind: Prediction, _ x: Tensor, at levels: LevelBatch, labels: Tensor?) -> Tensor {
        let n = x.shape[0]
        let y = labelsOrNull(labels, n)
        if let pre = preconditioning {
            precondition(levels.alpha.allSatisfy { $0 > 0 } && levels.sigma.allSatisfy { $0 > 0 }, "EDM preconditioning needs 0 < σ/α < ∞")
            let c = (0..<n).map { pre(levels.sigma[$0] / levels.alpha[$0]) }
            let x̃ = x / LevelBatch.column(levels.alpha, rank: x.rank)
            let F = network(x̃ * LevelBatch.column(c.map(\.c_in), rank: x.rank), Tensor(c.map { Float(timeScale * $0.c_noise) }), labels: y)
            let x0 = x̃ * LevelBatch.column(c.map(\.c_skip), rank: x.rank) + F * LevelBatch.column(c.map(\.c_out), rank: x.rank)
            return BatchParametrization.prediction(kind, x0: x0, x: x, levels: levels)
        }
        if let times = levels.time, isNative(levels, times) {     // this process's own levels (training)
            let o = network(x, Tensor(times.map { Float(timeScale * $0) }), labels: y)
            return BatchParametrization.convert(o, from: output, to: kind, x: x, levels: levels)
        }
        // Other levels (sampling, α = 1 objectives): serve each sample at the process time with the same log-SNR.
        let times = (0..<n).map { process.t(logSNR: levels[$0].logSNR) }
        let native = LevelBatch(process: process, times: times)
        let scale = (0..<n).map { levels.sigma[$0] > 0 ? native.sigma[$0] / levels.sigma[$0] : native.alpha[$0] / levels.alpha[$0] }
        let xn = x * LevelBatch.column(scale, rank: x.rank)
        let o = network(xn, Tensor(times.map { Float(timeScale * $0) }), labels: y)
        let x0 = BatchParametrization.x0(from: o, output, x: xn, levels: native)
        return BatchParametrization.prediction(kind, x0: x0, x: x, levels: levels)
    }

    /// Whether the levels are this process's at the given times (an objective on another process gives times too).
    func isNative(_ levels: LevelBatch, _ times: [Double]) -> Bool {
        times.indices.allSatisfy { i in
            Swift.abs(process.alpha(times[i]) - levels.alpha[i]) <= 1e-9 && Swift.abs(process.sigma(times[i]) - levels.sigma[i]) <= 1e-9
        }
    }

    /// x̂₀ at one level (σ = 0 returns x/α).
    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor { denoise(x, at: level, labels: nil) }

    public func denoise(_ x: Tensor, at level: NoiseLevel, labels: Tensor?) -> Tensor {
        if level.sigma == 0 { return x * Float(1 / level.alpha) }
        return denoised(x, at: LevelBatch(level, count: x.shape[0]), labels: labels)
    }
}
