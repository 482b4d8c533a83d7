/// One bibliography entry from a BibTeX file.
public struct BibEntry: Sendable, Hashable {
    public let key: String
    public let type: String
    public let fields: [String: String]
    public let line: Int
    /// "a", "b", … when other entries share the same author-year label (Song et al., 2021a / 2021b); else "".
    public internal(set) var yearSuffix = ""

    /// Family names of the authors, in order.
    var surnames: [String] {
        guard let authors = fields["author"] else { return [] }
        return authors.components(separatedBy: " and ").map { a in
            let name = a.trimmingCharacters(in: .whitespaces)
            if let comma = name.firstIndex(of: ",") { return String(name[..<comma]).trimmingCharacters(in: .whitespaces) }
            return String(name.split(separator: " ").last ?? Substring(name))
        }.filter { !$0.isEmpty }
    }

    var year: String { fields["year"] ?? "n.d." }

    /// "Ho et al., 2020"-style label used in citations, with the year's suffix when it is ambiguous.
    var citationLabel: String { baseLabel + yearSuffix }

    var baseLabel: String {
        let s = surnames
        let who: String
        switch s.count {
        case 0: who = fields["title"].map { String($0.prefix(20)) } ?? key
        case 1: who = s[0]
        case 2: who = "\(s[0]) & \(s[1])"
        default: who = "\(s[0]) et al."
        }
        return "\(who), \(year)"
    }

    /// One formatted reference (HTML) for the bibliography page.
    var referenceHTML: String {
        var parts: [String] = []
        if let a = fields["author"] {
            let names = a.components(separatedBy: " and ").map { n -> String in
                let n = n.trimmingCharacters(in: .whitespaces)
                if let comma = n.firstIndex(of: ",") {
                    let family = n[..<comma].trimmingCharacters(in: .whitespaces)
                    let given = n[n.index(after: comma)...].trimmingCharacters(in: .whitespaces)
                    return given.isEmpty ? family : "\(given) \(family)"
                }
                return n
            }
            parts.append(HTML.escape(names.joined(separator: ", ")) + " (\(HTML.escape(year + yearSuffix))).")
        } else {
            parts.append("(\(HTML.escape(year + yearSuffix))).")
        }
        if let t = fields["title"] { parts.append("<cite>\(HTML.escape(t))</cite>.") }
        let venue = fields["journal"] ?? fields["booktitle"] ?? fields["publisher"] ?? fields["howpublished"]
        if let v = venue { parts.append(HTML.escape(v) + ".") }
        if let eprint = fields["eprint"], (fields["archiveprefix"] ?? fields["eprinttype"] ?? "arXiv").lowercased() == "arxiv" {
            let id = HTML.escape(eprint)
            parts.append("<a href=\"https://arxiv.org/abs/\(id)\">arXiv:\(id)</a>.")
        }
        if let doi = fields["doi"] { parts.append("doi:\(HTML.escape(doi)).") }
        return parts.joined(separator: " ")
    }
}

/// A minimal BibTeX reader: `@type{key, field = {value} | "value" | number, …}`; braces nest; comments with `%`.
public struct Bibliography: Sendable {
    public private(set) var entries: [String: BibEntry] = [:]

    public init() {}

    public init(bibtex text: String, file: String) throws(BookBuildError) {
        var diagnostics: [BookDiagnostic] = []
        let chars = Array(text.unicodeScalars)
        var i = 0
        var line = 1
        func advance() { if chars[i] == "\n" { line += 1 }; i += 1 }
        func skipSpace() { while i < chars.count && (chars[i].properties.isWhitespace) { advance() } }
        while i < chars.count {
            if chars[i] == "%" { while i < chars.count && chars[i] != "\n" { advance() }; continue }
            guard chars[i] == "@" else { advance(); continue }
            let startLine = line
            advance()
            var type = ""
            while i < chars.count && (chars[i].properties.isAlphabetic) { type.unicodeScalars.append(chars[i]); advance() }
            type = type.lowercased()
            skipSpace()
            guard i < chars.count, chars[i] == "{" || chars[i] == "(" else {
                diagnostics.append(BookDiagnostic(file: file, line: startLine, "expected '{' after @\(type)")); continue
            }
            let close: Unicode.Scalar = chars[i] == "{" ? "}" : ")"
            advance()
            if type == "comment" || type == "preamble" || type == "string" {
                var depth = 1
                while i < chars.count && depth > 0 { if chars[i] == "{" { depth += 1 } else if chars[i] == "}" { depth -= 1 }; advance() }
                continue
            }
            skipSpace()
            var key = ""
            while i < chars.count && chars[i] != "," && chars[i] != close && !chars[i].properties.isWhitespace { key.unicodeScalars.append(chars[i]); advance() }
            skipSpace()
            var fields: [String: String] = [:]
            var ok = true
            while i < chars.count && chars[i] == "," {
                advance(); skipSpace()
                if i < chars.count && chars[i] == close { break }
                var name = ""
                while i < chars.count && chars[i] != "=" && !chars[i].properties.isWhitespace && chars[i] != close { name.unicodeScalars.append(chars[i]); advance() }
                skipSpace()
                guard i < chars.count, chars[i] == "=" else {
                    diagnostics.append(BookDiagnostic(file: file, line: line, "entry '\(key)': expected '=' after field '\(name)'")); ok = false; break
                }
                advance(); skipSpace()
                var value = ""
                guard i < chars.count else { break }
                if chars[i] == "{" {
                    var depth = 0
                    repeat {
                        if chars[i] == "{" { depth += 1; if depth > 1 { value.unicodeScalars.append(chars[i]) } }
                        else if chars[i] == "}" { depth -= 1; if depth > 0 { value.unicodeScalars.append(chars[i]) } }
                        else { value.unicodeScalars.append(chars[i]) }
                        advance()
                    } while i < chars.count && depth > 0
                    if depth > 0 { diagnostics.append(BookDiagnostic(file: file, line: startLine, "entry '\(key)': unbalanced braces")); ok = false; break }
                } else if chars[i] == "\"" {
                    advance()
                    while i < chars.count && chars[i] != "\"" { value.unicodeScalars.append(chars[i]); advance() }
                    if i < chars.count { advance() }
                } else {
                    while i < chars.count && chars[i] != "," && chars[i] != close && !chars[i].properties.isWhitespace { value.unicodeScalars.append(chars[i]); advance() }
                }
                // Inner braces only protect capitalisation; drop them for display.
                let cleaned = value.replacingOccurrences(of: "{", with: "").replacingOccurrences(of: "}", with: "")
                fields[name.lowercased()] = cleaned.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
                skipSpace()
            }
            if i < chars.count && chars[i] == close { advance() }
            guard ok else { continue }
            if key.isEmpty {
                diagnostics.append(BookDiagnostic(file: file, line: startLine, "@\(type) entry without a key"))
            } else if let old = entries[key] {
                diagnostics.append(BookDiagnostic(file: file, line: startLine, "duplicate key '\(key)' (first at line \(old.line))"))
            } else {
                entries[key] = BibEntry(key: key, type: type, fields: fields, line: startLine)
            }
        }
        if !diagnostics.isEmpty { throw BookBuildError(diagnostics) }
        disambiguateYears()
    }

    /// Entries with the same author-year label get suffixes a, b, … in order of title (then key), so every
    /// citation names one work.
    mutating func disambiguateYears() {
        let groups = Dictionary(grouping: entries.values, by: \.baseLabel).values.filter { $0.count > 1 }
        for group in groups {
            let ordered = group.sorted { ($0.fields["title"] ?? "", $0.key) < ($1.fields["title"] ?? "", $1.key) }
            for (n, e) in ordered.enumerated() {
                entries[e.key]!.yearSuffix = String(UnicodeScalar(UInt8(ascii: "a") + UInt8(min(n, 25))))
            }
        }
    }
}

import Foundation
