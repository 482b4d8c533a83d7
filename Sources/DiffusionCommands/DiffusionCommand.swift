import ArgumentParser
import DiffusionEngine

/// The root `diffusion` command. The executable's `main.swift` only calls `DiffusionCommand.main()`.
public struct DiffusionCommand: ParsableCommand {
    public init() {}
    public static let configuration = CommandConfiguration(
        commandName: "diffusion",
        abstract: "DiffusionLab — diffusion models from first principles, in Swift.",
        version: Engine.version,
        subcommands: [Doctor.self, Demo.self, Bench.self, Book.self, LabCommand.self, Train.self, Sample.self, Eval.self, Pretrained.self]
    )
}

/// Options every compute command shares.
struct ComputeOptions: ParsableArguments {
    @Option(help: "Threads for the engine and the BLAS (1–256).")
    var threads: Int = 1

    func validate() throws {
        guard (1...256).contains(threads) else {
            throw ValidationError("--threads must be between 1 and 256, got \(threads)")
        }
    }

    func apply() { Engine.configure(threads: threads) }
}
