import Foundation
import DiffusionEngine
import DiffusionLayers

/// A trainer that advances one optimisation step at a time and writes resumable checkpoints (`ToyTrainer`,
/// `ImageTrainer`). The step loop, the end-of-step update and the CLI's loop are written once against it.
public protocol StepwiseTrainer: AnyObject {
    /// Steps completed.
    var step: Int { get }
    /// Steps of the whole run.
    var totalSteps: Int { get }
    /// One optimisation step; returns the batch loss.
    @discardableResult func trainStep() -> Double
    /// Writes a checkpoint from which `resume` continues bit-identically.
    func save(to url: URL) throws
}

extension StepwiseTrainer {
    /// Trains until `totalSteps` or until `shouldStop` is true before a step; `onStep(step, loss)` after each.
    /// Returns the number of steps completed (all of them unless stopped).
    @discardableResult
    public func train(shouldStop: () -> Bool = { false }, onStep: (Int, Double) -> Void = { _, _ in }) -> Int {
        while step < totalSteps && !shouldStop() {
            let loss = trainStep()
            onStep(step, loss)
        }
        return step
    }
}

/// How every trainer ends a step: zero the gradients, back-propagate `loss`, clip the global gradient norm (when
/// `gradClip` > 0), set the scheduled learning rate, step the optimiser, update the EMA.
public func applyUpdate(_ loss: Tensor, optimizer: any Optimizer, learningRate: Double, gradClip: Double, ema: EMA?) {
    optimizer.zeroGrad()
    loss.backward()
    if gradClip > 0 { clipGradNorm(optimizer.parameters, maxNorm: gradClip) }
    optimizer.learningRate = learningRate
    optimizer.step()
    ema?.update()
}

/// Label dropout for classifier-free guidance: each label becomes the null class `classCount` with probability
/// `probability` (one uniform draw per label from `generator`).
public func dropLabels(_ labels: Tensor, probability: Double, classCount: Int, generator: inout RandomGenerator) -> Tensor {
    let drop = generator.uniform(labels.shape) .< Float(probability)
    return Tensor.where(drop, Tensor(scalar: Float(classCount)), labels)
}
