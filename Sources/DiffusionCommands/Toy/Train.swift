import ArgumentParser
import Diffusion
import Foundation

/// `diffusion train`: trains the toy MLP on a toy data set and writes a safetensors checkpoint.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a small diffusion model on a toy data set, or an image model (UNet, DiT, classifier) on images.",
        discussion: """
        Settings: defaults, then a JSON config file (--config), then flags.
        Config fields, all optional [default]:
          data [moons]        \(ToyDataset.names.prefix(5).joined(separator: ", ")),
                              \(ToyDataset.names.dropFirst(5).joined(separator: ", "))
          objective [ddpm]    \(TrainingConfig.objectives.joined(separator: ", "))
          process             \(TrainingConfig.processes.joined(separator: ", "))
                              [the objective's own]
          prediction          epsilon, sample (x0), v, score, velocity
                              [the objective's natural one]
          zeroTerminalSNR     rescale a VP process to zero terminal SNR [false]
          minSNRGamma         min-SNR-γ weighting for ddpm, x0, v [none]
          steps [2000]  batchSize [256]  learningRate [0.006]
          warmupSteps [50, at most half the run]  lrSchedule [cosine] | constant
          weightDecay [0]  gradClip [1; 0 = off]  emaDecay [0.99; 0 = off]
          width [128]  blocks [3]  embeddingDim [64]  inputScale [25]   (ToyMLP)
          conditional [false]  labelDropout [0.1]   (class-conditional, for CFG)
          seed [0]
        The checkpoint (model, optimizer, EMA; the config in its metadata) is
        written to a temporary file and renamed. Ctrl-C stops after the current
        step, saves the steps done so far and exits with status 130; --resume
        continues from it.
        Image data (digits, digits8, shapes, idx:IMAGES[,LABELS], folder:PATH)
        trains --model unet|dit|classifier; the image fields are listed in
        docs/CLI.md.
        """
    )

    @Option(help: "JSON config file (fields above).") var config: String?
    @Option(help: "Toy or image data set.") var data: String?
    @Option(help: "Objective: \(TrainingConfig.objectives.joined(separator: ", ")).") var objective: String?
    @Option(help: "Noise process: \(TrainingConfig.processes.joined(separator: ", ")).") var process: String?
    @Option(help: "Network prediction: epsilon, sample, v, score, velocity.") var prediction: String?
    @Flag(help: "Rescale the VP process to zero terminal SNR.") var zeroTerminalSnr = false
    @Option(help: "Min-SNR-γ weighting.") var minSnrGamma: Double?
    @Option(help: "Training steps.") var steps: Int?
    @Option(help: "Batch size.") var batchSize: Int?
    @Option(help: "Peak learning rate.") var lr: Double?
    @Option(help: "Linear warm-up steps.") var warmupSteps: Int?
    @Option(help: "EMA decay (0 = off).") var emaDecay: Double?
    @OptionGroup var image: ImageTrainFlags
    @Option(help: "ToyMLP width.") var width: Int?
    @Option(help: "ToyMLP residual blocks.") var blocks: Int?
    @Flag(help: "Train a class-conditional model.") var conditional = false
    @Option(help: "Random seed (data, noise, initial weights).") var seed: UInt64?
    @Option(help: "Checkpoint to write.") var output: String = "model.safetensors"
    @Flag(help: "Continue from --output if it exists (same config).") var resume = false
    @Option(help: "Progress on stderr: auto (a bar on a terminal, lines otherwise), bar, lines, none.") var progress: String = "auto"
    @OptionGroup var compute: ComputeOptions

    /// The config file (if any) with the flags applied, validated.
    func resolvedConfig() throws -> TrainingConfig {
        var c = TrainingConfig()
        if let config {
            guard let data = FileManager.default.contents(atPath: config) else { throw ValidationError("cannot read config file '\(config)'") }
            do { c = try TrainingConfig.decode(json: data, source: config) } catch { throw ValidationError(error.description) }
        }
        if let data { c.data = data }
        applySharedFlags(to: &c)
        if let width { c.width = width }
        if let blocks { c.blocks = blocks }
        do { try c.validate() } catch { throw ValidationError(error.description) }
        return c
    }

    /// The flags of the objective and the optimisation, which toy and image configs share, over the file's values.
    func applySharedFlags(to c: inout some DiffusionTrainingSettings) {
        if let objective { c.objective = objective }
        if let process { c.process = process }
        if let prediction { c.prediction = prediction }
        if zeroTerminalSnr { c.zeroTerminalSNR = true }
        if let minSnrGamma { c.minSNRGamma = minSnrGamma }
        if let steps { c.steps = steps }
        if let batchSize { c.batchSize = batchSize }
        if let lr { c.learningRate = lr }
        if let warmupSteps { c.warmupSteps = warmupSteps }
        if let emaDecay { c.emaDecay = emaDecay }
        if conditional { c.conditional = true }
        if let seed { c.seed = seed }
    }

    func validate() throws {
        guard ProgressBar.Mode(rawValue: progress) != nil else {
            throw ValidationError("unknown --progress '\(progress)'; choose auto, bar, lines or none")
        }
        if try isImageRun() { _ = try resolvedImageConfig(); return }
        _ = try resolvedConfig()
    }

    func run() throws {
        compute.apply()
        if try isImageRun() { return try runImage() }
        let config = try resolvedConfig()
        try ToyOutputs.checkWritable(output, what: "checkpoint")
        let url = URL(fileURLWithPath: output)
        let trainer: ToyTrainer
        do { trainer = try ToyTrainer(config) } catch { throw ValidationError(error.description) }
        if resume && FileManager.default.fileExists(atPath: output) {
            let saved: ToyCheckpoint
            do { saved = try ToyCheckpoint.load(url) } catch { throw ValidationError("cannot resume: \(error.description)") }
            guard saved.config == config else { throw ValidationError("cannot resume from '\(output)': it was trained with a different config (\(saved.config.json))") }
            do { try trainer.resume(from: url) } catch { throw ValidationError("cannot resume from '\(output)': \(error)") }
        }
        let log = { (s: String) in FileHandle.standardError.write(Data(s.utf8)) }
        log("Training \(config.objective) on \(config.data): \(config.steps) steps, batch \(config.batchSize), ToyMLP \(trainer.model.network.parameterCount) parameters\(trainer.step > 0 ? ", resuming at step \(trainer.step)" : "")\n")
        let run = trainWithProgress(trainer, mode: ProgressBar.Mode(rawValue: progress)!, afterStep: TrainHooks.afterStep.withLock { $0 })
        do { try trainer.save(to: url) } catch { throw ValidationError("cannot write the checkpoint '\(output)': \(error)") }
        if trainer.step < config.steps {
            log("Interrupted: stopped after step \(trainer.step) of \(config.steps); a valid checkpoint of these \(trainer.step) steps was written to \(output) (continue with --resume).\n")
            throw ExitCode(Interrupt.exitStatus)
        }
        let rate = Double(run.steps) / Swift.max(run.wallSeconds, 1e-9)
        print(String(format: "Trained %d steps in %.1f s (%.1f it/s), final loss %.4f → %@", run.steps, run.wallSeconds, rate, run.lastLoss, output))
    }
}
