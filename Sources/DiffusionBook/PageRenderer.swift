import Foundation

struct Section: Sendable {
    let level: Int
    let id: String
    let number: String
    let html: String   // heading content (may hold math spans)
    let text: String   // plain text
}

struct RenderedPage: Sendable {
    let output: String
    let chapter: String?
    let titleHTML: String
    let titleText: String
    let article: String
    let sections: [Section]
}

/// The second pass: cmark, then the cut-out pieces are put back as HTML, references resolved, blocks wrapped.
struct PageRenderer {
    let labels: [String: Target]
    let bibliography: Bibliography
    let results: [ExperimentRunner.Request: ExperimentResult]
    let registry: [String: BookExperiment]
    let labs: [String: BookManifest.Lab]
    var diagnostics: [BookDiagnostic] = []
    var citedKeys: Set<String> = []
    var figures = 0, exercises = 0, equations = 0

    init(labels: [String: Target], bibliography: Bibliography, results: [ExperimentRunner.Request: ExperimentResult],
         registry: [String: BookExperiment], labs: [String: BookManifest.Lab]) {
        self.labels = labels; self.bibliography = bibliography; self.results = results; self.registry = registry; self.labs = labs
    }

    static func anchorForKey(_ key: String) -> String {
        "ref-" + String(key.unicodeScalars.map { c -> Character in
            (c.properties.isAlphabetic && c.isASCII) || ("0"..."9").contains(c) || c == "-" || c == "_" ? Character(c) : "-"
        })
    }

    mutating func render(_ page: PreparedPage) -> RenderedPage {
        var html = Self.joinCJKLines(Markdown.html(page.markdown))
        // Headings: ids, numbers, anchor links.
        var sections: [Section] = []
        var titleHTML = "", titleText = ""
        var headingOrder: [Int: Int] = [:]
        var n = 0
        for (k, cut) in page.cuts.enumerated() { if case .heading = cut { headingOrder[k] = n; n += 1 } }
        html = Self.replaceHeadings(html) { level, inner in
            guard let (cutIndex, range) = Self.firstToken(in: inner, where: { headingOrder[$0] != nil }),
                  let order = headingOrder[cutIndex] else { return nil }
            var content = inner
            content.removeSubrange(range)
            content = content.trimmingCharacters(in: .whitespaces)
            let h = page.headings[order]
            let restored = self.restore(content, page: page)
            let text = Self.plainText(restored)
            if level == 1 {
                titleHTML = restored; titleText = text
                let prefix = page.chapter.map { "<span class=\"num\">\(BookManifest.heading($0))</span> " } ?? ""
                return "<h1 id=\"top\">\(prefix)\(restored)</h1>"
            }
            guard level <= 4 else { return "<h\(level)>\(restored)</h\(level)>" }
            if level <= 3 { sections.append(Section(level: level, id: h.id, number: h.number, html: restored, text: text)) }
            let num = h.number.isEmpty ? "" : "<span class=\"num\">\(h.number)</span> "
            return "<h\(level) id=\"\(h.id)\">\(num)\(restored) <a class=\"anchor\" href=\"#\(h.id)\" aria-label=\"本节链接\">#</a></h\(level)>"
        }
        html = restore(html, page: page)
        html = blocks(html, page: page)
        html = Self.tidy(html)
        return RenderedPage(output: page.output, chapter: page.chapter, titleHTML: titleHTML, titleText: titleText, article: html, sections: sections)
    }

    // MARK: Pieces

    /// A soft line break between two Chinese characters would show as a space: drop it (outside `<pre>`).
    /// Formulas are still placeholders here, so their TeX is never touched.
    static func joinCJKLines(_ html: String) -> String {
        func wide(_ c: Unicode.Scalar) -> Bool {
            let v = c.value
            return SearchIndex.isHan(c) || (0x3000...0x303F).contains(v) || (0xFF00...0xFFEF).contains(v) || (0x2018...0x201F).contains(v)
        }
        var out = String.UnicodeScalarView()
        let s = Array(html.unicodeScalars)
        var inPre = false
        var i = 0
        while i < s.count {
            let c = s[i]
            if c == "<" && i + 4 < s.count && s[i + 1] == "p" && s[i + 2] == "r" && s[i + 3] == "e" { inPre = true }
            if c == "<" && i + 5 < s.count && s[i + 1] == "/" && s[i + 2] == "p" && s[i + 3] == "r" && s[i + 4] == "e" { inPre = false }
            if c == "\n" && !inPre && i > 0 && i + 1 < s.count && wide(s[i - 1]) && wide(s[i + 1]) { i += 1; continue }
            out.append(c)
            i += 1
        }
        return String(out)
    }

    /// The first placeholder in `s` whose index satisfies `accept` (a heading's label comes after any math in it).
    static func firstToken(in s: String, where accept: (Int) -> Bool = { _ in true }) -> (Int, Range<String.Index>)? {
        let u = s.unicodeScalars
        var from = u.startIndex
        while let a = u[from...].firstIndex(of: Placeholder.open), let b = u[a...].firstIndex(of: Placeholder.close) {
            if let n = Int(String(u[u.index(after: a)..<b])), accept(n) { return (n, a..<u.index(after: b)) }
            from = u.index(after: b)
        }
        return nil
    }

    /// Calls `transform(level, inner)` for each `<hN>…</hN>`; nil keeps the heading as it is.
    static func replaceHeadings(_ html: String, _ transform: (Int, String) -> String?) -> String {
        var out = ""
        var rest = Substring(html)
        while let open = rest.range(of: "<h") {
            let after = rest[open.upperBound...]
            guard let d = after.first, let level = Int(String(d)), (1...6).contains(level),
                  after.dropFirst().first == ">", let close = after.range(of: "</h\(level)>") else {
                out += rest[..<open.upperBound]; rest = rest[open.upperBound...]; continue
            }
            out += rest[..<open.lowerBound]
            let inner = String(after[after.index(after.startIndex, offsetBy: 2)..<close.lowerBound])
            out += transform(level, inner) ?? "<h\(level)>\(inner)</h\(level)>"
            rest = after[close.upperBound...]
        }
        return out + rest
    }

    static func plainText(_ html: String) -> String {
        // Math spans keep their TeX so titles stay meaningful as plain text.
        HTML.text(html)
    }

    mutating func error(_ page: PreparedPage, _ line: Int, _ message: String) {
        diagnostics.append(BookDiagnostic(file: page.source, line: line, message))
    }

    /// Replaces placeholders by their HTML. Display math inside a paragraph closes and reopens it.
    mutating func restore(_ html: String, page: PreparedPage) -> String {
        guard html.unicodeScalars.contains(Placeholder.open) else { return html }
        var out = String.UnicodeScalarView()
        let s = Array(html.unicodeScalars)
        var i = 0
        var lastOpenP = -1, lastCloseP = -1
        func note(_ c: Unicode.Scalar, at k: Int) {
            if c == ">" && k >= 2 && s[k - 2] == "<" && s[k - 1] == "p" { lastOpenP = out.count }
            if c == ">" && k >= 3 && s[k - 3] == "<" && s[k - 2] == "/" && s[k - 1] == "p" { lastCloseP = out.count }
        }
        while i < s.count {
            let c = s[i]
            if c == Placeholder.open, let end = s[i...].firstIndex(of: Placeholder.close),
               let k = Int(String(String.UnicodeScalarView(s[(i + 1)..<end]))), k < page.cuts.count {
                var piece = ""
                switch page.cuts[k] {
                case let .math(tex, display, label, _):
                    let escaped = HTML.escape(tex)
                    if display {
                        var div = "<div class=\"math display\">\(escaped)</div>"
                        if let label, let target = labels[label] {
                            div = "<div class=\"equation\" id=\"\(target.id)\">\(div)<span class=\"eqno\">(\(target.number))</span></div>"
                            equations += 1
                        }
                        let insideP = lastOpenP > lastCloseP
                        piece = insideP ? "</p>\(div)<p>" : div
                    } else {
                        piece = "<span class=\"math inline\">\(escaped)</span>"
                    }
                case let .ref(label, line):
                    if let t = labels[label] {
                        let href = t.page == page.output ? "#\(t.id)" : "\(t.page)#\(t.id)"
                        piece = "<a class=\"xref\" href=\"\(href)\">\(HTML.escape(t.text))</a>"
                    } else {
                        error(page, line, "unresolved reference '@\(label)': no such label is defined")
                        piece = "??"
                    }
                case let .cite(keys, locators, line):
                    var parts: [String] = []
                    for (key, locator) in zip(keys, locators) {
                        if let e = bibliography.entries[key] {
                            citedKeys.insert(key)
                            parts.append("<a href=\"bibliography.html#\(Self.anchorForKey(key))\">\(HTML.escape(e.citationLabel))</a>"
                                         + (locator.map { ", " + HTML.escape($0) } ?? ""))
                        } else {
                            error(page, line, "unknown citation '@\(key)': not in the bibliography")
                        }
                    }
                    piece = "<span class=\"cite\">[" + parts.joined(separator: "; ") + "]</span>"
                case let .number(name, parameters, key, format, line):
                    guard let e = registry[name], let p = try? e.parameters(parameters),
                          let result = results[ExperimentRunner.Request(name: name, parameters: p)] else { piece = "??"; break }
                    if let v = result.numbers[key] {
                        piece = "<span class=\"num\" title=\"由实验 \(HTML.escape(name)) 在构建时算出\">\(Self.format(v, format))</span>"
                    } else {
                        error(page, line, "experiment '\(name)' gives no number '\(key)' (it gives: \(result.numbers.keys.sorted().joined(separator: ", ")))")
                        piece = "??"
                    }
                case .heading:
                    piece = ""
                }
                out.append(contentsOf: piece.unicodeScalars)
                i = end + 1
                continue
            }
            out.append(c)
            note(c, at: i)
            i += 1
        }
        return String(out)
    }

    /// Default: 4 significant digits; very small or large values as "4.036 × 10⁻⁵". A printf format overrides.
    static func format(_ v: Double, _ format: String?) -> String {
        if let f = format { return String(format: f, v).replacingOccurrences(of: "-", with: "−") }
        if v == 0 { return "0" }
        if v == v.rounded() && abs(v) < 1e7 { return String(Int(v)).replacingOccurrences(of: "-", with: "−") }
        let e = Int(Foundation.log10(abs(v)).rounded(.down))
        if e >= -3 && e < 5 {
            var s = String(format: "%.\(max(0, 3 - e))f", v)
            if s.contains(".") { while s.hasSuffix("0") { s.removeLast() }; if s.hasSuffix(".") { s.removeLast() } }
            return s.replacingOccurrences(of: "-", with: "−")
        }
        let m = v / Foundation.pow(10, Double(e))
        var ms = String(format: "%.3f", m)
        while ms.hasSuffix("0") { ms.removeLast() }
        if ms.hasSuffix(".") { ms.removeLast() }
        return "\(ms.replacingOccurrences(of: "-", with: "−")) × \(superscriptPower(e))"
    }

    static func superscriptPower(_ e: Int) -> String {
        let sup: [Character: Character] = ["0": "⁰", "1": "¹", "2": "²", "3": "³", "4": "⁴", "5": "⁵", "6": "⁶", "7": "⁷", "8": "⁸", "9": "⁹", "-": "⁻"]
        return "10" + String(String(e).map { sup[$0] ?? $0 })
    }

    /// Replaces `<!--dl:N-->` markers by the HTML of exercises, answers, boxes, figures and labs.
    mutating func blocks(_ html: String, page: PreparedPage) -> String {
        guard html.contains("<!--dl:") else { return html }
        var out = ""
        var rest = Substring(html)
        while let r = rest.range(of: "<!--dl:") {
            out += rest[..<r.lowerBound]
            let after = rest[r.upperBound...]
            guard let end = after.range(of: "-->"), let k = Int(after[..<end.lowerBound]), k < page.blocks.count else {
                out += "<!--dl:"; rest = after; continue
            }
            out += blockHTML(page.blocks[k], page: page)
            rest = after[end.upperBound...]
        }
        return out + rest
    }

    mutating func blockHTML(_ b: Block, page: PreparedPage) -> String {
        let opened = b.isClose ? page.blocks[b.opens] : b
        let title = HTML.escape(opened.title)
        switch (b.kind, b.isClose) {
        case ("exercise", false):
            exercises += 1
            let stars = String(repeating: "★", count: b.stars)
            return "<section class=\"exercise\" id=\"\(b.id)\" data-type=\"\(b.exerciseType)\" data-level=\"\(b.stars)\">"
                + "<header class=\"exercise-head\"><a class=\"exercise-num\" href=\"#\(b.id)\">练习 \(b.number)</a>"
                + " <span class=\"tag\">\(b.exerciseType)</span> <span class=\"stars\" title=\"难度 \(b.stars)/3\" aria-label=\"难度 \(b.stars)/3\">\(stars)</span>"
                + (title.isEmpty ? "" : " <span class=\"exercise-title\">\(title)</span>") + "</header><div class=\"exercise-body\">"
        case ("exercise", true):
            return "</section>"
        case ("answer", false):
            return "</div><details class=\"answer\"><summary>参考答案</summary><div class=\"answer-body\">"
        case ("answer", true):
            return "</div></details>"
        case ("figure", false):
            figures += 1
            var params = b.attributes
            let name = params.removeValue(forKey: "experiment") ?? ""
            var art = ""
            if let e = registry[name], let p = try? e.parameters(params), let r = results[ExperimentRunner.Request(name: name, parameters: p)] {
                if let svg = r.svg { art = svg } else { error(page, b.line, "experiment '\(name)' makes no figure (it gives only numbers)") }
            }
            return "<figure class=\"figure\" id=\"\(b.id)\" data-experiment=\"\(HTML.escape(name))\"><div class=\"figure-art\">\(art)</div>"
                + "<figcaption><a class=\"figure-num\" href=\"#\(b.id)\">图 \(b.number)</a> "
        case ("figure", true):
            return "</figcaption></figure>"
        case ("lab", false):
            let name = opened.title.split(separator: " ").first.map(String.init) ?? ""
            let lab = labs[name]
            return "<aside class=\"callout lab\" id=\"lab-\(HTML.escape(name))\"><header class=\"callout-head\">动手实验：\(HTML.escape(lab?.title ?? name))</header><div class=\"callout-body\">"
        case ("lab", true):
            let name = opened.title.split(separator: " ").first.map(String.init) ?? ""
            guard let lab = labs[name] else { return "</div></aside>" }
            return "<p class=\"lab-meta\">代码：<code>\(HTML.escape(lab.path))</code>" + (lab.command.map { "；运行：<code>\(HTML.escape($0))</code>" } ?? "") + "</p></div></aside>"
        case (_, false):
            let kind = b.numbered ?? .remark
            let head = "<a href=\"#\(b.id)\">\(kind.display(b.number))</a>" + (title.isEmpty ? "" : (kind == .research ? "：" : "（") + title + (kind == .research ? "" : "）"))
            return "<section class=\"callout \(b.kind)\" id=\"\(b.id)\"><header class=\"callout-head\">\(head)</header><div class=\"callout-body\">"
        case (_, true):
            return "</div></section>"
        }
    }

    /// Final clean-up: empty paragraphs, captions, scrollable tables, code blocks with highlighting.
    static func tidy(_ html: String) -> String {
        var s = html
        s = s.replacingOccurrences(of: #"<p>\s*</p>"#, with: "", options: .regularExpression)
        // A caption's first paragraph takes the figure number.
        s = s.replacingOccurrences(of: #"(<a class="figure-num" href="[^"]*">[^<]*</a>) \s*<p>"#, with: "<p>$1 ", options: .regularExpression)
        s = s.replacingOccurrences(of: "<table>", with: "<div class=\"table-wrap\"><table>")
        s = s.replacingOccurrences(of: "</table>", with: "</table></div>")
        return Highlighter.highlightCodeBlocks(s)
    }
}
