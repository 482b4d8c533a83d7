import ArgumentParser
import Diffusion
import Foundation

/// `diffusion eval`: sample quality against fresh data, each metric next to its real-vs-real floor, and the exact
/// NLL of held-out data through the probability-flow ODE.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a trained model: for toy models energy distance, sliced Wasserstein, MMD (each with its noise floor) and the PF-ODE NLL; for image models the Fréchet distance in a classifier's features with its real-vs-real floor, and the classifier's accuracy on conditional samples.",
        discussion: "Each metric compares --count samples with --count fresh data points, averaged over --repeats draws; its floor is the expected value of the same metric between two independent data samples of that size: exact for the energy distance (2·E‖X − X′‖/n) and MMD, the mean of 2·repeats pairs for the sliced Wasserstein distance. The V-statistics fluctuate heavily, so average before comparing. The NLL uses the instantaneous change of variables with an exact (autograd) divergence. Image models: --count samples (default 500) against --count real images; the floor is the same distance between two disjoint sets of --count real images, both averaged over --repeats random draws of the real sets (see docs/CLI.md)."
    )

    @OptionGroup var checkpoint: CheckpointOptions
    @OptionGroup var sampling: SamplingFlags
    @Option(help: "Metrics: comma-separated from energy, sliced-wasserstein, mmd.") var metrics: String = "energy,sliced-wasserstein,mmd"
    @Option(help: "Independent sample/data pairs each metric is averaged over (its floor uses twice as many).") var repeats: Int = 4
    @Option(help: "Held-out points for the PF-ODE NLL (0 = skip).") var nllCount: Int = 128
    @Option(help: "Runge–Kutta steps of the NLL integration.") var nllSteps: Int = 100
    @Option(help: "Image models: the data set's classifier checkpoint (default: pretrained/classifier-<data>.safetensors when it exists).") var classifier: String?
    @Flag(help: "Print the results as JSON.") var json = false
    @OptionGroup var compute: ComputeOptions

    var metricList: [String] { metrics.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }

    func validate() throws {
        for m in metricList where SampleMetric(rawValue: m) == nil {
            throw ValidationError("unknown metric '\(m)'; choose from \(SampleMetric.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        guard (1...100).contains(repeats) else { throw ValidationError("--repeats must be in 1…100, got \(repeats)") }
        guard (0...100_000).contains(nllCount) else { throw ValidationError("--nll-count must be in 0…100000, got \(nllCount)") }
        guard (1...100_000).contains(nllSteps) else { throw ValidationError("--nll-steps must be in 1…100000, got \(nllSteps)") }
    }

    struct Row: Codable { let metric: String; let value: Double; let floor: Double; let ratio: Double }
    struct Report: Codable {
        let checkpoint: String, data: String, sampler: String, steps: Int, count: Int
        let metrics: [Row]
        let nll: Double?, bitsPerDim: Double?, trueNLL: Double?
    }

    func run() throws {
        compute.apply()
        if try checkpoint.isImage() { return try runImage() }
        if classifier != nil { throw ValidationError("--classifier applies to image checkpoints") }
        let loaded = try checkpoint.load()
        let config = loaded.config, options = sampling.options, set = config.dataset
        var draws: [Tensor] = []
        for r in 0..<repeats {
            var o = options
            o.seed = options.seed &+ UInt64(r)
            do { draws.append(try o.sample(loaded.model, config: config).points) } catch { throw ValidationError(error.description) }
        }
        let references = (0..<repeats).map { set.sample(options.count, seed: 0xE7A1 + UInt64($0)).points }
        let rows = metricList.compactMap(SampleMetric.init(rawValue:)).map { m in
            let value = zip(draws, references).map { m($0, $1) }.reduce(0, +) / Double(repeats)
            let floor = m.floor(n: options.count, repeats: 2 * repeats) { n, s in set.sample(n, seed: 0xF100 + s).points }
            return Row(metric: m.rawValue, value: value, floor: floor, ratio: value / floor)
        }
        var nll: Double?, bpd: Double?, truth: Double?
        if nllCount > 0 {
            let held = set.sample(nllCount, seed: 0x4E11).points
            // Moment-matched prior N(m, σ_max² + v) from a data sample (see Likelihood).
            let probe = set.sample(4000, seed: 0x4E12).points, d = set.dimension
            let columns = (0..<d).map { j in probe.select(axis: 1, j).scalars.map(Double.init) }
            let mean = columns.map { $0.reduce(0, +) / Double($0.count) }
            let variance = zip(columns, mean).map { c, m in c.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(c.count) }.reduce(0, +) / Double(d)
            let values = withNoGrad { () -> [Double] in
                Likelihood.negativeLogLikelihood(loaded.model, held, sigmaMin: config.samplingRange.min, sigmaMax: config.samplingRange.max,
                                                 steps: nllSteps, divergence: .exact, dataMean: mean, dataVariance: variance)
            }
            nll = values.reduce(0, +) / Double(nllCount)
            bpd = Likelihood.bitsPerDimension(nll!, dimension: set.dimension)
            if let mixture = set.mixture?.marginal {
                truth = mixture.logDensity(held, at: NoiseLevel(alpha: 1, sigma: 0)).reduce(0) { $0 - $1 } / Double(nllCount)
            }
        }
        let report = Report(checkpoint: checkpoint.checkpoint ?? "", data: config.data, sampler: options.sampler, steps: options.steps,
                            count: options.count, metrics: rows, nll: nll, bitsPerDim: bpd, trueNLL: truth)
        if json {
            let e = JSONEncoder()
            e.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try e.encode(report), as: UTF8.self))
            return
        }
        print("\(config.data), \(options.sampler) \(options.steps) steps, \(options.count) samples vs \(options.count) fresh data points (mean of \(repeats)):")
        for r in rows {
            print("  " + r.metric.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%.5f   floor %.5f   ratio %.2f×", r.value, r.floor, r.ratio))
        }
        if let nll, let bpd {
            print(String(format: "  PF-ODE NLL          %.4f nats (%.4f bits/dim) on %d held-out points%@", nll, bpd, nllCount,
                         truth.map { String(format: "; true −log p: %.4f", $0) } ?? ""))
        }
    }
}
