import Foundation

/// Builds and tests a generated lab package with SwiftPM, in a child process.
public struct LabRunner: Sendable {
    public enum Outcome: Sendable {
        /// The package did not compile; `errors` are the compiler's error lines with their context.
        case buildFailed(errors: [String], output: String)
        case tested(LabTestRun, output: String)
    }

    public var package: URL
    /// SwiftPM's build folder (default: `.build` inside the package).
    public var scratchPath: URL?
    /// Receives the build's output as it arrives (progress and diagnostics), nil to stay quiet.
    public var echo: (@Sendable (String) -> Void)?

    public init(package: URL, scratchPath: URL? = nil, echo: (@Sendable (String) -> Void)? = nil) {
        self.package = package
        self.scratchPath = scratchPath
        self.echo = echo
    }

    var commonArguments: [String] {
        ["--package-path", package.path] + (scratchPath.map { ["--scratch-path", $0.path] } ?? [])
    }

    /// `swift build --build-tests`, then `swift test` writing the JSON event stream to a temporary file.
    public func run() throws -> Outcome {
        let build = try Self.swift(["build", "--build-tests"] + commonArguments, in: package, echo: echo)
        if build.status != 0 { return .buildFailed(errors: Self.compilerErrors(build.output), output: build.output) }
        let events = FileManager.default.temporaryDirectory.appendingPathComponent("diffusion-lab-events-\(UUID().uuidString).jsonl")
        defer { try? FileManager.default.removeItem(at: events) }
        let test = try Self.swift(["test", "--skip-build", "--event-stream-output-path", events.path, "--event-stream-version", "0"] + commonArguments,
                                  in: package, echo: nil)
        let stream = (try? String(contentsOf: events, encoding: .utf8)) ?? ""
        return .tested(LabTestRun(eventStream: stream), output: test.output)
    }

    /// Runs `swift` with `arguments`; returns its exit status and combined output.
    static func swift(_ arguments: [String], in dir: URL, echo: (@Sendable (String) -> Void)?) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["swift"] + arguments
        process.currentDirectoryURL = dir
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        process.standardInput = FileHandle.nullDevice
        let collected = Collected()
        pipe.fileHandleForReading.readabilityHandler = { h in
            let data = h.availableData
            guard !data.isEmpty else { return }
            collected.append(data)
            echo?(String(decoding: data, as: UTF8.self))
        }
        try process.run()
        process.waitUntilExit()
        pipe.fileHandleForReading.readabilityHandler = nil
        let rest = pipe.fileHandleForReading.readDataToEndOfFile()
        if !rest.isEmpty { collected.append(rest); echo?(String(decoding: rest, as: UTF8.self)) }
        return (process.terminationStatus, collected.text)
    }

    /// Compiler error lines ("file:line:col: error: …") and the source excerpt lines that follow each.
    static func compilerErrors(_ output: String) -> [String] {
        var out: [String] = []
        var seen = Set<String>()
        let lines = output.components(separatedBy: "\n")
        for (i, line) in lines.enumerated() where line.contains(": error:") || line.hasPrefix("error:") {
            guard seen.insert(line).inserted else { continue }
            out.append(line)
            var j = i + 1
            while j < lines.count, j - i <= 6, lines[j].hasPrefix(" ") || lines[j].first?.isNumber == true { out.append(lines[j]); j += 1 }
        }
        return out
    }
}

/// Output gathered from a pipe's handler thread.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var data = Data()
    func append(_ d: Data) { lock.lock(); data.append(d); lock.unlock() }
    var text: String { lock.lock(); defer { lock.unlock() }; return String(decoding: data, as: UTF8.self) }
}
