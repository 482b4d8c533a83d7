import Foundation

/// An error in a lab source: a marker that does not pair up, nests, or is malformed. Describes itself as
/// `file:line: message`, like a compiler diagnostic.
public struct LabSourceError: Error, CustomStringConvertible, Equatable {
    public let file: String
    public let line: Int
    public let message: String

    public init(file: String, line: Int, message: String) {
        self.file = file
        self.line = line
        self.message = message
    }

    public var description: String { "\(file):\(line): \(message)" }
}

/// One exercise in a lab source: the lines between `// BEGIN SOLUTION <name>` and `// END SOLUTION`.
///
/// Marker syntax (one marker per line, only whitespace before `//`):
///
///     // BEGIN SOLUTION 名字      starts the solution of exercise `名字` (any text without line breaks)
///     …solution code…             compiled in the repository, removed from the learner's skeleton
///     // STUB                     optional: the comment lines after it, uncommented, replace the default stub
///     // return []
///     // END SOLUTION
///
/// The default stub is `throw Unfinished("名字")`, so every exercise function is declared `throws`: an unfinished
/// exercise fails only its own tests, with the message `练习未完成：名字`, instead of crashing the test run.
public struct SolutionRegion: Sendable, Equatable {
    public let name: String
    /// 1-based line numbers of the BEGIN and END markers.
    public let beginLine: Int
    public let endLine: Int
    /// Leading whitespace of the BEGIN marker; the stub is indented like it.
    public let indent: String
    /// Replacement lines from a `// STUB` section (uncommented), or nil for the default stub.
    public let stub: [String]?
}

/// A lab source split into its exercise regions; turns into the learner's skeleton.
public struct LabSource: Sendable {
    public let file: String
    public let lines: [String]
    public let regions: [SolutionRegion]

    static let begin = "BEGIN SOLUTION"
    static let end = "END SOLUTION"
    static let stub = "STUB"

    /// Parses `text`; `file` names the source in errors. Throws on unmatched, nested or malformed markers and on
    /// two exercises with the same name.
    public init(text: String, file: String) throws(LabSourceError) {
        self.file = file
        var lines = text.components(separatedBy: "\n")
        if lines.last == "" { lines.removeLast() }
        self.lines = lines
        var regions: [SolutionRegion] = []
        var open: (name: String, line: Int, indent: String, stubLine: Int?)?
        for (i, raw) in lines.enumerated() {
            let n = i + 1
            func fail(_ message: String) -> LabSourceError { LabSourceError(file: file, line: n, message: message) }
            guard let marker = try Self.marker(raw, file: file, line: n) else {
                let t = raw.trimmingCharacters(in: .whitespaces)
                if let o = open, let s = o.stubLine, !t.isEmpty, !t.hasPrefix("//") {
                    throw fail("only comment lines may follow '// STUB' (line \(s)) before '// END SOLUTION'; they become the stub")
                }
                continue
            }
            switch marker {
            case let .begin(name):
                if let o = open {
                    throw fail("nested '// BEGIN SOLUTION \(name)' inside exercise '\(o.name)' opened at line \(o.line); close it with '// END SOLUTION' first")
                }
                if let dup = regions.first(where: { $0.name == name }) {
                    throw fail("exercise '\(name)' already defined at line \(dup.beginLine); names must be unique within a file")
                }
                open = (name, n, String(raw.prefix { $0 == " " || $0 == "\t" }), nil)
            case .stub:
                guard let o = open else { throw fail("'// STUB' outside a solution region") }
                if let s = o.stubLine { throw fail("second '// STUB' in exercise '\(o.name)' (first at line \(s))") }
                open?.stubLine = n
            case .end:
                guard let o = open else { throw fail("'// END SOLUTION' without a matching '// BEGIN SOLUTION'") }
                let stub = o.stubLine.map { s in lines[s..<i].map(Self.uncomment) }
                regions.append(SolutionRegion(name: o.name, beginLine: o.line, endLine: n, indent: o.indent, stub: stub))
                open = nil
            }
        }
        if let o = open {
            throw LabSourceError(file: file, line: o.line, message: "'// BEGIN SOLUTION \(o.name)' is never closed with '// END SOLUTION'")
        }
        self.regions = regions
    }

    public init(contentsOf url: URL, displayName: String? = nil) throws {
        try self.init(text: String(contentsOf: url, encoding: .utf8), file: displayName ?? url.path)
    }

    public var exerciseNames: [String] { regions.map(\.name) }

    enum Marker: Equatable { case begin(String), end, stub }

    /// The marker on this line, nil for ordinary lines; throws for lines that look like a marker but are malformed.
    static func marker(_ raw: String, file: String, line: Int) throws(LabSourceError) -> Marker? {
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard trimmed.hasPrefix("//") else { return nil }
        let body = trimmed.dropFirst(2).trimmingCharacters(in: .whitespaces)
        let upper = body.uppercased()
        let looksLike = upper.hasPrefix(begin) || upper.hasPrefix(end) || upper == stub
        guard looksLike else { return nil }
        func fail(_ m: String) -> LabSourceError { LabSourceError(file: file, line: line, message: m) }
        if body.hasPrefix(begin) {
            let name = body.dropFirst(begin.count).trimmingCharacters(in: .whitespaces)
            guard body.dropFirst(begin.count).first == " ", !name.isEmpty else {
                throw fail("'// BEGIN SOLUTION' needs an exercise name: '// BEGIN SOLUTION 名字'")
            }
            return .begin(name)
        }
        if body == end { return .end }
        if body == stub { return .stub }
        if body.hasPrefix(end) { throw fail("'// END SOLUTION' takes nothing after it, got '\(trimmed)'") }
        throw fail("malformed marker '\(trimmed)': markers are '// BEGIN SOLUTION 名字', '// STUB' and '// END SOLUTION' in capitals")
    }

    /// `// text` → `text` (keeping the indentation before `//`); `//` alone → empty line.
    static func uncomment(_ line: String) -> String {
        let indent = line.prefix { $0 == " " || $0 == "\t" }
        var rest = line.dropFirst(indent.count)
        guard rest.hasPrefix("//") else { return line }
        rest = rest.dropFirst(2)
        if rest.hasPrefix(" ") { rest = rest.dropFirst() }
        return rest.isEmpty ? "" : String(indent) + rest
    }

    /// The learner's version: each region replaced by a TODO comment and its stub.
    public func skeleton() -> String {
        var out: [String] = []
        var next = 0
        for r in regions {
            out += lines[next..<(r.beginLine - 1)]
            out.append("\(r.indent)// TODO 练习「\(r.name)」：删掉下面这行，写出你的实现（要求见上方说明）。")
            out += r.stub ?? ["\(r.indent)throw Unfinished(\(Self.swiftLiteral(r.name)))"]
            next = r.endLine
        }
        out += lines[next...]
        return out.joined(separator: "\n") + "\n"
    }

    /// The reference version with marker lines and stub sections removed (for showing a solution).
    public func solution() -> String {
        var skip = Set<Int>()
        for r in regions {
            skip.insert(r.beginLine)
            skip.insert(r.endLine)
            if let stub = r.stub { for l in (r.endLine - stub.count - 1)..<r.endLine { skip.insert(l) } }
        }
        return lines.enumerated().filter { !skip.contains($0.offset + 1) }.map(\.element).joined(separator: "\n") + "\n"
    }

    static func swiftLiteral(_ s: String) -> String {
        "\"" + s.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}
