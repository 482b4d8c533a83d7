import ArgumentParser
import CKernels
import DiffusionEngine
import Foundation

/// `diffusion bench train`: the W1/W2 training workloads of ../shared/bench, Swift and PyTorch run
/// alternately in separate processes, for each thread count; prints median steps/s, the ratio and peak RSS.
struct TrainBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "W1 (toy MLP) and W2 (small UNet) training steps, side by side with PyTorch when it is importable."
    )

    @Option(help: "Workloads to run: w1, w2 or both (comma-separated).") var workloads: String = "w1,w2"
    @Option(help: "Thread counts (comma-separated).") var threads: String = "1,2"
    @Option(help: "Alternating rounds per workload and thread count (the median is reported).") var rounds: Int = 3
    @Option(help: "Folder holding torch_w1_mlp.py and torch_w2_unet.py.") var torchScripts: String = "../shared/bench"
    @Option(help: "Python interpreter with torch (default: $TORCH_PYTHON, /tmp/tv/bin/python3, then python3).") var python: String?
    @Flag(help: "Print the results as JSON.") var json = false

    func validate() throws {
        for w in workloadList where Workload(rawValue: w) == nil {
            throw ValidationError("unknown workload '\(w)'; choose from w1, w2")
        }
        guard !threadList.isEmpty, threadList.allSatisfy({ (1...256).contains($0) }) else {
            throw ValidationError("--threads must be a comma-separated list of numbers in 1…256, got '\(threads)'")
        }
        guard (1...50).contains(rounds) else { throw ValidationError("--rounds must be in 1…50, got \(rounds)") }
    }

    var workloadList: [String] { workloads.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() } }
    var threadList: [Int] { threads.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) } }

    func run() throws {
        let torch = TorchRunner.find(explicit: python, scripts: torchScripts)
        if torch == nil, !json {
            print("PyTorch is not importable (set --python or TORCH_PYTHON, or: python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch).")
            print("Showing the Swift figures only.\n")
        }
        var rows: [TrainBenchRow] = []
        for w in workloadList.compactMap(Workload.init(rawValue:)) {
            for t in threadList {
                var swift: [RunResult] = [], py: [RunResult] = []
                for _ in 0..<rounds {
                    swift.append(try runSelf(w, threads: t))
                    if let torch { py.append(try torch.run(w, threads: t)) }
                }
                let row = TrainBenchRow(workload: w.rawValue, threads: t,
                                        swiftStepsPerSecond: medianOf(swift.map(\.stepsPerSecond)),
                                        swiftPeakRSSMB: medianOf(swift.map(\.peakRSSMB)),
                                        torchStepsPerSecond: py.isEmpty ? nil : medianOf(py.map(\.stepsPerSecond)),
                                        torchPeakRSSMB: py.isEmpty ? nil : medianOf(py.map(\.peakRSSMB)),
                                        ratio: py.isEmpty ? nil : medianOf(zip(swift, py).map { $0.stepsPerSecond / $1.stepsPerSecond }))
                rows.append(row)
                if !json { print(row.line) }
            }
        }
        if json {
            let enc = JSONEncoder()
            enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try enc.encode(rows), as: UTF8.self))
        }
    }

    /// Runs one Swift workload in a fresh process of this executable, so its peak RSS is its own.
    func runSelf(_ w: Workload, threads: Int) throws -> RunResult {
        let exe = URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
        let resolved = exe.contains("/") ? exe : (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":").map { "\($0)/\(exe)" }.first { FileManager.default.isExecutableFile(atPath: $0) } ?? exe
        let out = try runProcess(resolved, ["bench", "workload", w.rawValue, "--threads", "\(threads)"])
        guard let r = RunResult(parsing: out) else { throw ValidationError("could not read the Swift \(w.rawValue) result from: \(out)") }
        return r
    }
}

enum Workload: String, CaseIterable, ExpressibleByArgument {
    case w1, w2
    var torchScript: String { self == .w1 ? "torch_w1_mlp.py" : "torch_w2_unet.py" }
}

struct RunResult {
    let stepsPerSecond: Double
    let peakRSSMB: Double

    /// Reads "steps/s=<x>" and "rss_mb=<y>" from a result line.
    init?(parsing text: String) {
        func value(_ key: String) -> Double? {
            guard let r = text.range(of: key + "=") else { return nil }
            return Double(text[r.upperBound...].prefix { "0123456789.".contains($0) })
        }
        guard let s = value("steps/s"), let m = value("rss_mb") else { return nil }
        stepsPerSecond = s
        peakRSSMB = m
    }
}

struct TrainBenchRow: Codable {
    let workload: String
    let threads: Int
    let swiftStepsPerSecond: Double
    let swiftPeakRSSMB: Double
    let torchStepsPerSecond: Double?
    let torchPeakRSSMB: Double?
    let ratio: Double?

    var line: String {
        var s = String(format: "%@ threads=%d  swift %7.2f steps/s (RSS %5.0f MB)", workload.uppercased(), threads, swiftStepsPerSecond, swiftPeakRSSMB)
        if let t = torchStepsPerSecond, let m = torchPeakRSSMB, let r = ratio {
            s += String(format: "  torch %7.2f steps/s (RSS %5.0f MB)  ratio %.2f×", t, m, r)
        }
        return s
    }
}

/// Finds a Python with torch and runs the reference scripts, measuring their peak RSS.
struct TorchRunner {
    let python: String
    let scripts: String

    static func find(explicit: String?, scripts: String) -> TorchRunner? {
        var candidates: [String] = []
        if let explicit { candidates.append(explicit) }
        if let env = ProcessInfo.processInfo.environment["TORCH_PYTHON"] { candidates.append(env) }
        candidates += ["/tmp/tv/bin/python3", "python3"]
        for p in candidates {
            if (try? runProcess(p, ["-c", "import torch"])) != nil {
                return TorchRunner(python: p, scripts: scripts)
            }
        }
        return nil
    }

    func run(_ w: Workload, threads: Int) throws -> RunResult {
        let script = "\(scripts)/\(w.torchScript)"
        guard FileManager.default.fileExists(atPath: script) else {
            throw ValidationError("PyTorch reference script not found: \(script) (set --torch-scripts)")
        }
        let wrapper = """
        import resource, runpy, sys
        sys.argv = [\(pyString(script)), "\(threads)"]
        runpy.run_path(sys.argv[0], run_name="__main__")
        print("rss_mb=%.1f" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0))
        """
        let out = try runProcess(python, ["-c", wrapper])
        guard let r = RunResult(parsing: out) else { throw ValidationError("could not read the PyTorch \(w.rawValue) result from: \(out)") }
        return r
    }

    private func pyString(_ s: String) -> String { "'" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "'", with: "\\'") + "'" }
}

/// Runs a program to completion and returns its standard output; throws when it fails.
func runProcess(_ program: String, _ args: [String]) throws -> String {
    let p = Process()
    if program.contains("/") {
        p.executableURL = URL(fileURLWithPath: program)
        p.arguments = args
    } else {
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = [program] + args
    }
    let pipe = Pipe(), err = Pipe()
    p.standardOutput = pipe
    p.standardError = err
    try p.run()
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    _ = err.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else {
        throw ValidationError("\(program) \(args.prefix(3).joined(separator: " ")) failed with status \(p.terminationStatus)")
    }
    return String(decoding: data, as: UTF8.self)
}

func medianOf(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty ? .nan : (s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2)
}
