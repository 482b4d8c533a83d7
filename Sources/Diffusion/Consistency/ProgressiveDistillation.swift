import Foundation
import DiffusionEngine
import DiffusionLayers

/// Progressive distillation (Salimans & Ho 2022, arXiv 2202.00512) in α = 1 coordinates with DDIM (= Euler) steps.
public enum ProgressiveDistillation {
    /// The student's regression target (Algorithm 2): two teacher DDIM steps σ → σ′ → σ″ give x″, and
    /// x̃ = (x″ − (σ″/σ)·x)/(1 − σ″/σ) is the x̂₀ for which one DDIM step σ → σ″, x̂₀ + (σ″/σ)(x − x̂₀), lands on x″
    /// (x̃ = x″ when σ″ = 0). Not differentiable.
    public static func target(_ teacher: some Denoiser, _ x: Tensor, sigma σ: Double, mid σ1: Double, next σ2: Double) -> Tensor {
        precondition(σ > σ1 && σ1 > σ2 && σ2 >= 0, "need σ > σ′ > σ″ ≥ 0")
        return withNoGrad {
            let x1 = Sampling.ddim(teacher, x, sigmas: [σ, σ1, σ2])
            if σ2 == 0 { return x1 }
            let r = σ2 / σ
            return (x1 - x * Float(r)) * Float(1 / (1 - r))
        }
    }

    /// The student's levels: every other level of the teacher's 2N + 1 (N steps from 2N).
    public static func halve(_ sigmas: [Double]) -> [Double] {
        precondition(sigmas.count >= 3 && sigmas.count % 2 == 1, "halving needs an even number of teacher steps, got \(sigmas.count - 1)")
        return stride(from: 0, to: sigmas.count, by: 2).map { sigmas[$0] }
    }

    /// A toy student D(x; σ) = c_skip·x + c_out·F(c_in·x; c_noise) (EDM preconditioning, x₀ output).
    public static func makeStudent(dimension: Int = 2, width: Int = 128, blocks: Int = 3, embeddingDim: Int = 32, seed: UInt64 = 0) -> NetworkModel<ToyMLP> {
        let net = withParameterSeed(seed) { ToyMLP(dimension: dimension, width: width, blocks: blocks, embeddingDim: embeddingDim) }
        return try! NetworkModel(net, process: EDMProcess(), output: .sample, preconditioning: EDMPreconditioning())
    }

    /// A fresh student with the same architecture and a copy of `model`'s weights (a student starts as its teacher).
    public static func copy(_ model: NetworkModel<ToyMLP>) -> NetworkModel<ToyMLP> {
        let m = model.network
        let net = ToyMLP(dimension: m.dimension, width: m.out.inFeatures, blocks: m.blocks.count, embeddingDim: m.embeddingDim,
                         inputScale: m.inputScale)
        for ((_, p), (_, q)) in zip(net.namedParameters(), m.namedParameters()) { p.copy(from: q.value) }
        return try! NetworkModel(net, process: model.process, output: model.output, preconditioning: model.preconditioning, timeScale: model.timeScale)
    }
}

/// The ideal student of one halving: at level σ_{2i} of the teacher's grid it returns the target x̃ of
/// `ProgressiveDistillation.target`, so DDIM on the halved grid reproduces the teacher's DDIM on the full grid.
public struct DistilledDenoiser<Teacher: Denoiser>: Denoiser {
    public let teacher: Teacher
    public let teacherSigmas: [Double]
    public init(_ teacher: Teacher, teacherSigmas: [Double]) {
        _ = ProgressiveDistillation.halve(teacherSigmas)
        (self.teacher, self.teacherSigmas) = (teacher, teacherSigmas)
    }
    public func denoise(_ x: Tensor, at level: NoiseLevel) -> Tensor {
        precondition(level.alpha == 1, "a distilled student works in α = 1 coordinates")
        guard let i = stride(from: 0, to: teacherSigmas.count - 1, by: 2).first(where: { teacherSigmas[$0] == level.sigma }) else {
            preconditionFailure("σ = \(level.sigma) is not on the student's grid")
        }
        return ProgressiveDistillation.target(teacher, x, sigma: teacherSigmas[i], mid: teacherSigmas[i + 1], next: teacherSigmas[i + 2])
    }
}

/// Trains a toy student to take one DDIM step where its teacher takes two, on the teacher's grid of 2N + 1 levels
/// (ending at 0), with EDM's weight λ(σ) = 1/c_out(σ)² on ‖D_student(x; σ) − x̃‖². Shares the `StepwiseTrainer`
/// loop and `applyUpdate`. Step k's batch is samples k·B… of the data stream of `seed`, its noise and levels come
/// from stream k of seed + 1.
public final class ProgressiveDistillationTrainer: StepwiseTrainer {
    public let teacher: any Denoiser
    public let teacherSigmas: [Double]
    public let student: NetworkModel<ToyMLP>
    public let data: ToyDataset
    public let optimizer: AdamW
    public let totalSteps: Int
    public let batchSize: Int
    public let seed: UInt64
    let schedule: CosineLR
    public private(set) var step = 0

    public init(teacher: any Denoiser, teacherSigmas: [Double], student: NetworkModel<ToyMLP>, data: ToyDataset,
                steps: Int, batchSize: Int = 256, learningRate: Double = 2e-3, seed: UInt64 = 0) {
        precondition(student.preconditioning != nil, "the student needs EDM preconditioning")
        precondition(teacherSigmas.last == 0, "the teacher's grid must end at σ = 0")
        _ = ProgressiveDistillation.halve(teacherSigmas)
        (self.teacher, self.teacherSigmas, self.student, self.data) = (teacher, teacherSigmas, student, data)
        (totalSteps, self.batchSize, self.seed) = (steps, batchSize, seed)
        optimizer = AdamW(student.network.parameters(), lr: learningRate)
        schedule = CosineLR(peak: learningRate, totalSteps: steps, warmupSteps: Swift.min(20, steps / 2))
    }

    /// The student's grid.
    public var studentSigmas: [Double] { ProgressiveDistillation.halve(teacherSigmas) }

    @discardableResult
    public func trainStep() -> Double {
        let B = batchSize, N = (teacherSigmas.count - 1) / 2
        let x0 = data.sample(B, seed: seed, offset: step * B).points
        var rng = RandomGenerator(seed: seed &+ 1, stream: UInt64(step) << 24)
        let z = rng.normal(x0.shape)
        let i = rng.uniform([B]).scalars.map { Swift.min(Int($0 * Float(N)), N - 1) }
        let σ = i.map { teacherSigmas[2 * $0] }
        let x = x0 + z * LevelBatch.column(σ, rank: z.rank)
        let byLevel = Dictionary(zip(σ, i), uniquingKeysWith: { a, _ in a })
        let target = perLevel(x, σ) { rows, s in
            let k = 2 * byLevel[s]!
            return ProgressiveDistillation.target(teacher, rows, sigma: s, mid: teacherSigmas[k + 1], next: teacherSigmas[k + 2])
        }
        let pre = student.preconditioning!
        let weight = Tensor(σ.map { Float(1 / (pre($0).c_out * pre($0).c_out)) })
        let pred = student.predict(.sample, x, at: LevelBatch(alpha: Array(repeating: 1, count: B), sigma: σ), labels: nil)
        let loss = ((pred - target).square().sum(axis: 1) * weight).mean()
        applyUpdate(loss, optimizer: optimizer, learningRate: schedule.lr(at: step), gradClip: 1, ema: nil)
        step += 1
        return Double(loss.item)
    }

    public func save(to url: URL) throws {
        try TrainingState.save(to: url, model: student.network, optimizer: optimizer, step: step,
                               config: "{\"kind\": \"progressive-distillation\", \"data\": \"\(data.name)\", \"studentSteps\": \(studentSigmas.count - 1)}")
    }
}
