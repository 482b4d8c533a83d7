import ArgumentParser
import Diffusion
import Foundation

/// `diffusion sample`: draws samples from a trained toy checkpoint into a CSV file and an SVG plot.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Sample a trained model: CSV (header x,y[,label]) and an SVG scatter for toy models; a PNG grid, .npy and a GIF for image models.",
        discussion: "Any sampler works with any checkpoint; conditional models take --label and classifier-free guidance (--guidance-scale, or --guidance), text-conditioned ones --prompt. --list prints the samplers. Image checkpoints: --output is a PNG grid (default samples.png unless only --npy is given), --npy writes [count, c, h, w] float32 in [−1, 1], --gif the denoising of the first 16 samples; --count defaults to 64."
    )

    @Flag(help: "List every sampler with its order and model calls per step, then exit.") var list = false
    @OptionGroup var checkpoint: CheckpointOptions
    @OptionGroup var sampling: SamplingFlags
    @Option(name: [.customLong("output"), .customLong("out")], help: "CSV file to write (toy; default samples.csv), or PNG grid (image; default samples.png).")
    var output: String?
    @Option(help: "SVG plot to write (samples over data; default samples.svg); 'none' for no plot (toy models).") var plot: String?
    @OptionGroup var image: ImageSampleFlags
    @OptionGroup var compute: ComputeOptions

    static func listing() -> String {
        var s = "sampler            order  calls/step  stochastic  summary\n"
        for x in samplers {
            s += x.name.padding(toLength: 19, withPad: " ", startingAt: 0) + String(x.order).padding(toLength: 7, withPad: " ", startingAt: 0)
                + String(x.callsPerStep).padding(toLength: 12, withPad: " ", startingAt: 0) + (x.isStochastic ? "yes" : "no").padding(toLength: 12, withPad: " ", startingAt: 0)
                + x.summary + "\n"
        }
        return s + "A second-order step to σ = 0 is a single Euler call (N steps: 2N − 1 calls).\n"
    }

    func run() throws {
        if list { print(Self.listing(), terminator: ""); return }
        compute.apply()
        if try checkpoint.isImage() { return try runImage() }
        try image.rejectForToy()
        let (output, plot) = (output ?? "samples.csv", plot ?? "samples.svg")
        let loaded = try checkpoint.load()
        let options = sampling.options
        do { try options.validate(for: loaded.config) } catch { throw ValidationError(error.description) }
        try ToyOutputs.checkWritable(output, what: "samples")
        if plot != "none" { try ToyOutputs.checkWritable(plot, what: "plot") }
        let t0 = Date()
        let (x, labels): (Tensor, Tensor?)
        do { (x, labels) = try options.sample(loaded.model, config: loaded.config) } catch { throw ValidationError(error.description) }
        let dt = Date().timeIntervalSince(t0)
        guard x.scalars.allSatisfy({ $0.isFinite }) else { throw ValidationError("sampling produced non-finite values; no files written") }
        var files = [(path: output, data: Data(ToyOutputs.csv(x, labels: labels).utf8))]
        if plot != "none" {
            let data = loaded.config.dataset.sample(options.count, seed: 0xDA7A).points
            let title = "\(loaded.config.data): \(options.sampler), \(options.steps) steps"
            files.append((plot, Data(ToyOutputs.svg(samples: x, labels: labels, data: data, title: title).utf8)))
        }
        try ToyOutputs.writeAll(files)
        let calls = Sampler.named(options.sampler)!.modelCalls(steps: options.steps)
        print(String(format: "%d samples with %@ (%d steps, %d model calls) in %.2f s → %@%@", options.count, options.sampler, options.steps, calls, dt,
                     output, plot == "none" ? "" : ", \(plot)"))
    }
}
