import DiffusionEngine
import Foundation

/// What an experiment gives the book: an SVG figure and/or named numbers for the text.
public struct ExperimentResult: Codable, Sendable, Hashable {
    public var svg: String?
    public var numbers: [String: Double]
    public init(svg: String? = nil, numbers: [String: Double] = [:]) { self.svg = svg; self.numbers = numbers }
}

/// Parameters of one experiment run, as written in the book (`seed=3`), checked against the defaults.
public struct ExperimentParameters: Sendable, Hashable {
    public let values: [String: String]

    public func string(_ name: String) -> String { values[name] ?? "" }

    public func int(_ name: String, in range: ClosedRange<Int> = Int.min...Int.max) throws -> Int {
        guard let v = Int(string(name)), range.contains(v) else {
            throw ExperimentError("parameter \(name)=\(string(name)) must be an integer in \(range.lowerBound)…\(range.upperBound)")
        }
        return v
    }

    public func double(_ name: String) throws -> Double {
        guard let v = Double(string(name)), v.isFinite else { throw ExperimentError("parameter \(name)=\(string(name)) must be a number") }
        return v
    }

    public func ints(_ name: String) throws -> [Int] {
        let parts = string(name).split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil }) else { throw ExperimentError("parameter \(name)=\(string(name)) must be comma-separated integers") }
        return parts.map { $0! }
    }

    /// Canonical text (sorted keys) used in cache keys.
    var canonical: String { values.keys.sorted().map { "\($0)=\(values[$0]!)" }.joined(separator: ";") }
}

struct ExperimentFailure: Error {
    let request: ExperimentRunner.Request
    let message: String
}

public struct ExperimentError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ message: String) { description = message }
}

/// A named computation whose output appears in the book. `revision` is bumped when its code changes meaningfully.
public struct BookExperiment: Sendable {
    public let name: String
    public let summary: String
    public let defaults: [String: String]
    public let revision: Int
    public let run: @Sendable (ExperimentParameters) throws -> ExperimentResult

    public init(name: String, summary: String, defaults: [String: String], revision: Int = 1,
                run: @escaping @Sendable (ExperimentParameters) throws -> ExperimentResult) {
        self.name = name; self.summary = summary; self.defaults = defaults; self.revision = revision; self.run = run
    }

    /// Defaults overridden by `given`; unknown names are an error.
    func parameters(_ given: [String: String]) throws -> ExperimentParameters {
        let unknown = given.keys.filter { defaults[$0] == nil }.sorted()
        if !unknown.isEmpty {
            throw ExperimentError("experiment '\(name)' has no parameter \(unknown.map { "'\($0)'" }.joined(separator: ", ")) (it takes: \(defaults.keys.sorted().joined(separator: ", ")))")
        }
        return ExperimentParameters(values: defaults.merging(given) { $1 })
    }
}

/// The experiments the book can call by name.
public enum BookExperiments {
    public static let all: [BookExperiment] = [ForwardNoising.experiment, NoiseScheduleCurves.experiment] + Chapter1.experiments
        + Chapter2.experiments
        + Chapter3.experiments
        + Chapter4.experiments
        + Chapter5.experiments
        + Chapter6.experiments
        + Chapter7.experiments
        + Chapter8.experiments
        + Chapter9.experiments
        + Chapter10.experiments
        + Chapter11.experiments
        + Chapter12.experiments
        + Chapter13.experiments
        + Chapter13TextToImage.experiments
        + Chapter14.experiments
        + AppendixA.experiments
        + AppendixB.experiments
        + AppendixC.experiments

    /// The library version that cache keys include.
    public static var libraryVersion: String { Engine.version }
}

/// Runs experiments with a disk cache keyed by SHA-256 of (name, revision, parameters, library version).
struct ExperimentRunner {
    let registry: [String: BookExperiment]
    let cacheDirectory: URL?
    let libraryVersion: String
    let log: (String) -> Void

    struct Request: Hashable { let name: String; let parameters: ExperimentParameters }

    func key(_ e: BookExperiment, _ p: ExperimentParameters) -> String {
        SHA256.hex("diffusionlab-book-experiment|\(e.name)|rev \(e.revision)|\(p.canonical)|library \(libraryVersion)")
    }

    private struct CacheFile: Codable { let name: String; let parameters: String; let libraryVersion: String; let result: ExperimentResult }

    /// Runs each request once (cached results are reused); throws on the first failing experiment.
    func run(_ requests: [Request]) throws -> [Request: ExperimentResult] {
        var results: [Request: ExperimentResult] = [:]
        let unique = Array(Set(requests)).sorted { ($0.name, $0.parameters.canonical) < ($1.name, $1.parameters.canonical) }
        let fm = FileManager.default
        if let dir = cacheDirectory { try? fm.createDirectory(at: dir, withIntermediateDirectories: true) }
        for (n, r) in unique.enumerated() {
            let e = registry[r.name]!
            let k = key(e, r.parameters)
            let label = "[\(n + 1)/\(unique.count)] \(r.name)\(r.parameters.canonical.isEmpty ? "" : " (\(r.parameters.canonical))")"
            let file = cacheDirectory?.appendingPathComponent("\(k).json")
            if let file, let data = try? Data(contentsOf: file),
               let cached = try? JSONDecoder().decode(CacheFile.self, from: data), cached.name == e.name {
                results[r] = cached.result
                log("\(label): cached")
                continue
            }
            log("\(label): running…")
            let t0 = Date()
            var result: ExperimentResult
            do { result = try e.run(r.parameters) } catch { throw ExperimentFailure(request: r, message: "\(error)") }
            if let bad = result.numbers.keys.sorted().first(where: { !result.numbers[$0]!.isFinite }) {
                throw ExperimentFailure(request: r, message: "number '\(bad)' is \(result.numbers[bad]!), not a finite value")
            }
            log("\(label): done in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
            results[r] = result
            if let file {
                let enc = JSONEncoder()
                enc.outputFormatting = [.sortedKeys]
                let data = try enc.encode(CacheFile(name: e.name, parameters: r.parameters.canonical, libraryVersion: libraryVersion, result: result))
                try data.write(to: file, options: .atomic)
            }
        }
        return results
    }
}
