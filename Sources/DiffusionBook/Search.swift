import Foundation

/// The full-text index, built at build time: Chinese as overlapping character bigrams, English and numbers as
/// lower-cased words. The page script tokenises queries the same way (a single Han character scans the text).
public struct SearchIndex: Codable, Sendable {
    public struct Doc: Codable, Sendable {
        public let u: String   // URL with anchor
        public let t: String   // title
        public let x: String   // plain text
    }
    public var docs: [Doc] = []
    public var terms: [String: [Int]] = [:]
    /// Sorted English words, for prefix matching.
    public var words: [String] = []

    static func isHan(_ c: Unicode.Scalar) -> Bool {
        let v = c.value
        return (0x3400...0x9FFF).contains(v) || (0xF900...0xFAFF).contains(v) || (0x20000...0x2FA1F).contains(v)
    }

    /// Bigrams of Han runs and lower-cased ASCII words.
    public static func tokens(_ text: String) -> [String] {
        var out: [String] = []
        var run: [Unicode.Scalar] = []
        var word = ""
        func endRun() {
            if run.count >= 2 { for k in 0..<(run.count - 1) { out.append(String(String.UnicodeScalarView([run[k], run[k + 1]]))) } }
            run = []
        }
        func endWord() { if word.count >= 2 || (word.count == 1 && word.first!.isNumber) { out.append(word) }; word = "" }
        for c in text.lowercased().unicodeScalars {
            if isHan(c) { endWord(); run.append(c) }
            else if c.isASCII && (c.properties.isAlphabetic || ("0"..."9").contains(c)) { endRun(); word.unicodeScalars.append(c) }
            else { endRun(); endWord() }
        }
        endRun(); endWord()
        return out
    }

    mutating func add(url: String, title: String, text: String) {
        let id = docs.count
        docs.append(Doc(u: url, t: title, x: text))
        for t in Set(Self.tokens(title + " " + text)) { terms[t, default: []].append(id) }
    }

    mutating func finish() {
        words = terms.keys.filter { $0.unicodeScalars.allSatisfy(\.isASCII) }.sorted()
    }

    /// `window.DL_SEARCH = {…};` with sorted keys (deterministic bytes).
    func javascript() -> String {
        let enc = JSONEncoder()
        enc.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let json = String(decoding: (try? enc.encode(self)) ?? Data("{}".utf8), as: UTF8.self)
        return "window.DL_SEARCH=\(json);\n"
    }

    /// Documents containing every token of the query (the same rule as the page script, without ranking).
    public func search(_ query: String) -> [Doc] {
        var hits: Set<Int>?
        for t in Self.tokens(query) {
            let ids: Set<Int>
            if t.unicodeScalars.allSatisfy(\.isASCII) {
                ids = Set(words.filter { $0.hasPrefix(t) }.flatMap { terms[$0] ?? [] })
            } else {
                ids = Set(terms[t] ?? [])
            }
            hits = hits.map { $0.intersection(ids) } ?? ids
        }
        return (hits ?? []).sorted().map { docs[$0] }
    }
}
