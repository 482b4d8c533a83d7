import ArgumentParser
import CKernels
import DiffusionEngine
import Foundation

/// Reports what the engine found on this machine.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show the BLAS in use, threads, CPU features and optional tools.")

    func run() throws {
        Engine.configure(threads: 1)
        print("DiffusionLab \(Engine.version)")
        print("BLAS:        \(Engine.blasName)\(Engine.blasPath.isEmpty ? "" : " (\(Engine.blasPath))")")
        if Engine.blasName == "fallback" && ProcessInfo.processInfo.environment["DIFFUSIONLAB_GEMM"] != "fallback" {
            print("             no BLAS found: GEMM uses the portable fallback. Install it with: apt-get install libopenblas-dev")
        }
        print("GEMM path:   \(String(cString: dl_gemm_path())) (set DIFFUSIONLAB_GEMM=native, openblas, fallback or auto)")
        print("Cores:       \(ProcessInfo.processInfo.activeProcessorCount) (engine threads: \(Engine.threads); set with --threads)")
        print("CPU:         \(CPUInfo.summary)")
        for tool in OptionalTool.all {
            let found = tool.locate()
            print("\(tool.name.padding(toLength: 12, withPad: " ", startingAt: 0)) \(found ?? "missing — \(tool.purpose); install: \(tool.install)")")
        }
    }
}

/// A tool the project uses when present (book checks, interop tests).
struct OptionalTool {
    let name: String
    let candidates: [String]
    let purpose: String
    let install: String

    static let all = [
        OptionalTool(name: "chromium", candidates: ["chromium", "chromium-browser", "google-chrome"], purpose: "browser tests of the book", install: "apt-get install chromium"),
        OptionalTool(name: "KaTeX", candidates: ["/usr/share/javascript/katex/katex.min.js"], purpose: "formulas in the book", install: "apt-get install libjs-katex"),
        OptionalTool(name: "python3", candidates: ["python3"], purpose: "optional benchmarks and interop tests", install: "apt-get install python3"),
    ]

    /// Absolute paths are checked as files; bare names are searched on PATH.
    func locate() -> String? {
        let fm = FileManager.default
        for c in candidates {
            if c.hasPrefix("/") {
                if fm.fileExists(atPath: c) { return c }
                continue
            }
            let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
            for dir in path.split(separator: ":") {
                let p = "\(dir)/\(c)"
                if fm.isExecutableFile(atPath: p) { return p }
            }
        }
        return nil
    }
}

enum CPUInfo {
    static var summary: String {
        #if os(Linux)
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown" }
        let lines = text.split(separator: "\n")
        let model = lines.first { $0.hasPrefix("model name") }.map { String($0.split(separator: ":", maxSplits: 1)[1]).trimmingCharacters(in: .whitespaces) } ?? "unknown"
        let flags = Set(lines.first { $0.hasPrefix("flags") }.map { $0.split(separator: " ").map(String.init) } ?? [])
        let wanted = ["sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16"].filter { flags.contains($0) }
        return "\(model); features: \(wanted.joined(separator: " "))"
        #else
        return "see sysctl machdep.cpu"
        #endif
    }
}
