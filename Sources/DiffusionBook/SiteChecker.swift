import Foundation

/// Checks a built site: every local link and anchor resolves, every exercise has an answer, every figure has
/// its art, ids are unique, and nothing internal (sources, cache, test pages) is published.
public struct SiteChecker {
    public struct Result: Sendable {
        public var problems: [String] = []
        public var pages = 0
        public var links = 0
        public var externalLinks = 0
        public var exercises = 0
        public var figures = 0
        public var ok: Bool { problems.isEmpty }
    }

    public static func check(_ files: [String: [UInt8]]) -> Result {
        var r = Result()
        var ids: [String: Set<String>] = [:]
        var texts: [String: String] = [:]
        for (path, bytes) in files where path.hasSuffix(".html") {
            let html = String(decoding: bytes, as: UTF8.self)
            texts[path] = html
            var seen = Set<String>()
            for id in matches(#"\sid="([^"]*)""#, html) {
                if !seen.insert(id).inserted { r.problems.append("\(path): duplicate id '\(id)'") }
            }
            ids[path] = seen
        }
        for path in files.keys.sorted() {
            if path.hasSuffix(".md") || path.hasPrefix("cache/") || path.contains("/cache/") || path.hasPrefix("__test__") || path.hasSuffix(".bib") || path == "book.json" {
                r.problems.append("\(path): internal file published")
            }
        }
        for path in texts.keys.sorted() {
            let html = texts[path]!
            r.pages += 1
            let dir = (path as NSString).deletingLastPathComponent
            for link in matches(#"(?:href|src)="([^"]*)""#, html) {
                if link.hasPrefix("http://") || link.hasPrefix("https://") || link.hasPrefix("mailto:") { r.externalLinks += 1; continue }
                if link.hasPrefix("data:") || link.hasPrefix("javascript:") { continue }
                r.links += 1
                let parts = link.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
                var target = parts[0].isEmpty ? path : resolve(dir, parts[0])
                if target.hasSuffix("/") || target.isEmpty { target += "index.html" }
                guard files[target] != nil else { r.problems.append("\(path): broken link '\(link)' (no file \(target))"); continue }
                if parts.count == 2, !parts[1].isEmpty {
                    guard let targetIds = ids[target] else { r.problems.append("\(path): anchor on a non-HTML file in '\(link)'"); continue }
                    let anchor = parts[1].removingPercentEncoding ?? parts[1]
                    if !targetIds.contains(anchor) { r.problems.append("\(path): broken anchor '\(link)' (no id '\(anchor)' in \(target))") }
                }
            }
            for block in sections(html, open: "<section class=\"exercise\"", close: "</section>") {
                r.exercises += 1
                let id = matches(#"id="([^"]*)""#, block).first ?? "?"
                guard let a = block.range(of: "<div class=\"answer-body\">") else {
                    r.problems.append("\(path): exercise \(id) has no answer"); continue
                }
                let answer = block[a.upperBound...]
                if HTML.text(String(answer)).isEmpty && !answer.contains("class=\"math") {
                    r.problems.append("\(path): exercise \(id) has an empty answer")
                }
                if block.range(of: "<details class=\"answer\">") == nil { r.problems.append("\(path): exercise \(id)'s answer is not folded") }
            }
            for block in sections(html, open: "<figure class=\"figure\"", close: "</figure>") {
                r.figures += 1
                let id = matches(#"id="([^"]*)""#, block).first ?? "?"
                if !block.contains("<svg") && !block.contains("<img") { r.problems.append("\(path): figure \(id) has no image") }
                if !block.contains("<figcaption>") { r.problems.append("\(path): figure \(id) has no caption") }
            }
        }
        // Stylesheets' url(…) references (KaTeX fonts).
        for (path, bytes) in files where path.hasSuffix(".css") {
            let css = String(decoding: bytes, as: UTF8.self)
            let dir = (path as NSString).deletingLastPathComponent
            for u in matches(#"url\(([^)]*)\)"#, css) {
                let clean = u.trimmingCharacters(in: CharacterSet(charactersIn: "\"' "))
                if clean.hasPrefix("data:") || clean.hasPrefix("#") { continue }
                let target = resolve(dir, String(clean.split(separator: "?").first ?? ""))
                if files[target] == nil { r.problems.append("\(path): missing \(clean)") }
            }
        }
        r.problems.sort()
        return r
    }

    static func resolve(_ dir: String, _ rel: String) -> String {
        var parts = dir.isEmpty ? [] : dir.split(separator: "/").map(String.init)
        if rel.hasPrefix("/") { parts = [] }
        for p in rel.split(separator: "/") {
            if p == "." { continue }
            if p == ".." { if !parts.isEmpty { parts.removeLast() }; continue }
            parts.append(String(p.removingPercentEncoding ?? String(p)))
        }
        return parts.joined(separator: "/") + (rel.hasSuffix("/") ? "/" : "")
    }

    static func matches(_ pattern: String, _ text: String) -> [String] {
        guard let re = try? NSRegularExpression(pattern: pattern) else { return [] }
        let ns = text as NSString
        return re.matches(in: text, range: NSRange(location: 0, length: ns.length)).map { ns.substring(with: $0.range(at: 1)) }
    }

    /// Substrings from each `open` to its matching `close` (nesting of the same tag counted).
    static func sections(_ html: String, open: String, close: String) -> [String] {
        var out: [String] = []
        var rest = Substring(html)
        let tag = String(open.dropFirst().prefix(while: { $0 != " " && $0 != ">" }))
        while let s = rest.range(of: open) {
            var depth = 0
            var i = s.lowerBound
            var end: String.Index?
            while i < rest.endIndex {
                if rest[i...].hasPrefix("<\(tag)") { depth += 1 }
                else if rest[i...].hasPrefix(close) { depth -= 1; if depth == 0 { end = rest.index(i, offsetBy: close.count); break } }
                i = rest.index(after: i)
            }
            guard let e = end else { break }
            out.append(String(rest[s.lowerBound..<e]))
            rest = rest[e...]
        }
        return out
    }
}
