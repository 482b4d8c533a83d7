import Diffusion
import Foundation

/// What a training loop did: steps run now, wall and CPU seconds, the last batch loss.
struct TrainingRun {
    let steps: Int
    let wallSeconds: Double
    let cpuSeconds: Double
    let lastLoss: Double
}

/// Runs `trainer` to its last step with a progress bar on standard error; Ctrl-C stops it after the current step
/// (the caller sees `trainer.step < trainer.totalSteps`). `afterStep` runs after every step (tests interrupt with it).
func trainWithProgress(_ trainer: some StepwiseTrainer, mode: ProgressBar.Mode, afterStep: (@Sendable (Int) -> Void)? = nil) -> TrainingRun {
    let bar = ProgressBar(total: trainer.totalSteps, startingAt: trainer.step, mode: mode)
    let first = trainer.step
    let t0 = Date(), cpu0 = processCPUSeconds()
    var lastLoss = Double.nan
    Interrupt.install()
    defer { Interrupt.restore() }
    trainer.train(shouldStop: { Interrupt.requested }) { step, loss in
        lastLoss = loss
        bar.update(step: step, loss: loss)
        afterStep?(step)
    }
    bar.finish()
    return TrainingRun(steps: trainer.step - first, wallSeconds: Date().timeIntervalSince(t0), cpuSeconds: processCPUSeconds() - cpu0,
                       lastLoss: lastLoss)
}

/// CPU time of this process so far (all threads), in seconds.
func processCPUSeconds() -> Double {
    var t = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
    return Double(t.tv_sec) + Double(t.tv_nsec) / 1e9
}
