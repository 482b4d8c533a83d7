/// A problem in the book's sources, located by file and line.
public struct BookDiagnostic: Error, Sendable, Hashable, CustomStringConvertible, Comparable {
    public let file: String
    public let line: Int
    public let message: String
    public init(file: String, line: Int, _ message: String) { self.file = file; self.line = line; self.message = message }
    public var description: String { line > 0 ? "\(file):\(line): error: \(message)" : "\(file): error: \(message)" }
    public static func < (a: Self, b: Self) -> Bool { (a.file, a.line, a.message) < (b.file, b.line, b.message) }
}

/// Every problem found in one build; the build writes nothing when there is any.
public struct BookBuildError: Error, Sendable, CustomStringConvertible {
    public let diagnostics: [BookDiagnostic]
    public init(_ diagnostics: [BookDiagnostic]) { self.diagnostics = diagnostics.sorted() }
    public var description: String {
        diagnostics.map(\.description).joined(separator: "\n") + "\n\(diagnostics.count) error\(diagnostics.count == 1 ? "" : "s"); nothing was written."
    }
}
