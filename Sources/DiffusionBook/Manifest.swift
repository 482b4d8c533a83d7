import Foundation

/// `book/book.json`: the book's title, its chapters and appendices in order (written or not yet), the
/// bibliography file and the labs pages may link to.
public struct BookManifest: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        /// "1"…"14" for chapters, "A"… for appendices.
        public var number: String
        public var title: String
        /// Markdown file under the book folder; absent while the chapter is being written.
        public var file: String?
        public var summary: String?
    }

    public struct Lab: Codable, Sendable {
        public var title: String
        /// Where the lab lives in the repository.
        public var path: String
        public var command: String?
    }

    public var title: String
    public var subtitle: String?
    /// The front page (default `index.md`).
    public var front: String?
    public var chapters: [Entry]
    public var appendices: [Entry]?
    /// BibTeX file (default `references.bib` when it exists).
    public var bibliography: String?
    public var labs: [String: Lab]?

    /// Output file of a chapter or appendix: `ch01.html`, `appendix-a.html`.
    static func outputName(_ number: String) -> String {
        if let n = Int(number) { return n < 10 ? "ch0\(n).html" : "ch\(n).html" }
        return "appendix-\(number.lowercased()).html"
    }

    /// "第 1 章" or "附录 A".
    static func heading(_ number: String) -> String { Int(number) != nil ? "第 \(number) 章" : "附录 \(number)" }
}
