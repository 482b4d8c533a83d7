import ArgumentParser
import DiffusionEngine
import Foundation

/// The built-in demo: fits a small non-linear regression with the engine and prints the loss falling.
struct Demo: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Fit y = sin(3x) with a two-layer network using the engine's autograd.")

    @Option(help: "Training steps.") var steps: Int = 400
    @Option(help: "Learning rate (plain gradient descent with momentum 0.9).") var lr: Float = 0.05
    @Option(help: "Random seed.") var seed: UInt64 = 0
    @OptionGroup var compute: ComputeOptions

    func validate() throws {
        guard steps > 0 && steps <= 1_000_000 else { throw ValidationError("--steps must be in 1…1000000, got \(steps)") }
        guard lr > 0 && lr.isFinite else { throw ValidationError("--lr must be a positive number, got \(lr)") }
    }

    func run() throws {
        compute.apply()
        var rng = RandomGenerator(seed: seed)
        let x = Tensor.linspace(-1, 1, count: 256).reshaped([256, 1])
        let y = (x * 3).sin()
        let hidden = 64
        var params = [
            (rng.normal([1, hidden]) * 1.0).requiringGrad(),
            Tensor.zeros([hidden]).requiringGrad(),
            (rng.normal([hidden, 1]) * (1 / Float(hidden).squareRoot())).requiringGrad(),
            Tensor.zeros([1]).requiringGrad(),
        ]
        var velocity = params.map { Tensor.zeros(like: $0) }
        print("Fitting y = sin(3x) on 256 points with a 1→\(hidden)→1 tanh network (BLAS: \(Engine.blasName)).")
        let start = Date()
        for step in 1...steps {
            let h = (x.matmul(params[0]) + params[1]).tanh()
            let loss = (h.matmul(params[2]) + params[3] - y).square().mean()
            for p in params { p.zeroGrad() }
            loss.backward()
            withNoGrad {
                for i in params.indices {
                    velocity[i] = velocity[i] * 0.9 + params[i].grad!
                    let updated = params[i].detached() - velocity[i] * lr
                    params[i] = updated.requiringGrad()
                }
            }
            if step == 1 || step % (steps / 8 == 0 ? 1 : steps / 8) == 0 || step == steps {
                print(String(format: "step %5d   loss %.6f", step, loss.item))
            }
        }
        print(String(format: "done in %.2f s", Date().timeIntervalSince(start)))
    }
}
