import Foundation

/// Kinds of numbered things a reference (`@eq:name`) can point to, with their label prefix and display word.
enum Numbered: String, CaseIterable, Sendable {
    case equation = "eq", figure = "fig", exercise = "ex", section = "sec"
    case definition = "def", theorem = "thm", lemma = "lem", proposition = "prop", remark = "rem", research = "lead"

    /// "式 (1.3)", "图 1.2", "第 1.2 节", …
    func display(_ number: String) -> String {
        switch self {
        case .equation: return "式 (\(number))"
        case .figure: return "图 \(number)"
        case .exercise: return "练习 \(number)"
        case .section: return "第 \(number) 节"
        case .definition: return "定义 \(number)"
        case .theorem: return "定理 \(number)"
        case .lemma: return "引理 \(number)"
        case .proposition: return "命题 \(number)"
        case .remark: return "注 \(number)"
        case .research: return "研究线索 \(number)"
        }
    }

    /// The `::: name` block that defines it, for boxes.
    static let blocks: [String: Numbered] = [
        "exercise": .exercise, "figure": .figure, "definition": .definition, "theorem": .theorem, "lemma": .lemma,
        "proposition": .proposition, "remark": .remark, "research": .research,
    ]
}

/// Where a label points.
struct Target: Sendable {
    let kind: Numbered
    let page: String      // output file name, e.g. "ch01.html"
    let id: String        // anchor, e.g. "eq-1-3"
    let number: String    // "1.3"
    let text: String      // "式 (1.3)"
}

/// Something cut out of the Markdown before cmark sees it; restored afterwards.
enum Cut: Sendable {
    case math(tex: String, display: Bool, label: String?, line: Int)
    case ref(label: String, line: Int)
    case cite(keys: [String], locators: [String?], line: Int)
    case number(experiment: String, parameters: [String: String], key: String, format: String?, line: Int)
    case heading(level: Int, label: String?, line: Int)
}

/// A `::: kind … {#label attrs}` block.
struct Block: Sendable {
    let kind: String
    let line: Int
    var title: String
    var attributes: [String: String]
    var label: String?
    var numbered: Numbered?
    var number = ""
    var id = ""
    var exerciseType = ""
    var stars = 0
    var hasAnswer = false
    var parent: Int?
    var isClose = false
    var opens = -1        // for a closing marker: the block it closes
}

/// One page after the first pass: Markdown with placeholders, plus everything cut out of it.
struct PreparedPage: Sendable {
    let source: String          // path shown in errors
    let output: String          // "ch01.html"
    let chapter: String?        // "1", "A" or nil
    var markdown = ""
    var cuts: [Cut] = []
    var blocks: [Block] = []    // opening and closing markers, in order
    var headings: [(level: Int, number: String, id: String, label: String?)] = []
    var equations: [String: (id: String, number: String)] = [:]  // label → anchor
    var experimentRequests: [(name: String, parameters: [String: String], line: Int)] = []
}

/// Placeholder syntax: private-use characters around an index, inert for cmark.
enum Placeholder {
    static let open: Unicode.Scalar = "\u{E000}"
    static let close: Unicode.Scalar = "\u{E001}"
    static func token(_ i: Int) -> String { "\u{E000}\(i)\u{E001}" }
    static func marker(_ i: Int) -> String { "<!--dl:\(i)-->" }
}

/// The first pass: protects math, code and the book's own syntax from cmark, numbers headings, equations,
/// figures, exercises and boxes, and records labels. Errors carry the source file and line.
struct Preprocessor {
    let experiments: [String: BookExperiment]
    let labs: [String: BookManifest.Lab]
    var diagnostics: [BookDiagnostic] = []
    var labels: [String: Target] = [:]
    var labelLines: [String: (String, Int)] = [:]

    static let exerciseTypes = ["推导", "计算", "编程", "挑战"]
    static let blockKinds = ["exercise", "answer", "figure", "definition", "theorem", "lemma", "proposition", "remark", "research", "lab"]

    mutating func error(_ page: PreparedPage, _ line: Int, _ message: String) {
        diagnostics.append(BookDiagnostic(file: page.source, line: line, message))
    }

    mutating func define(_ label: String, _ target: Target, _ page: PreparedPage, _ line: Int) {
        if let (file, l) = labelLines[label] {
            error(page, line, "label '\(label)' is already defined at \(file):\(l)")
            return
        }
        labels[label] = target
        labelLines[label] = (page.source, line)
    }

    /// Comments (`<!-- … -->`) outside fenced code are drafts: removed, keeping line numbers.
    static func stripComments(_ text: String) -> String {
        var out = ""
        var inFence: String?
        var inComment = false
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var line = String(raw)
            if inComment {
                if let end = line.range(of: "-->") { line = String(line[end.upperBound...]); inComment = false } else { out += "\n"; continue }
            }
            if let fence = inFence {
                if isFenceClose(line, fence) { inFence = nil }
                out += line + "\n"; continue
            }
            if let f = fenceOpen(line) { inFence = f; out += line + "\n"; continue }
            while let start = line.range(of: "<!--") {
                if let end = line.range(of: "-->", range: start.upperBound..<line.endIndex) {
                    line.removeSubrange(start.lowerBound..<end.upperBound)
                } else {
                    line = String(line[..<start.lowerBound]); inComment = true; break
                }
            }
            out += line + "\n"
        }
        out.removeLast()
        return out
    }

    /// The fence string (``` or ~~~ run) if the line opens a fenced code block.
    static func fenceOpen(_ line: String) -> String? {
        let t = line.drop(while: { $0 == " " || $0 == "\t" })
        for ch in ["`", "~"] as [Character] {
            let run = t.prefix(while: { $0 == ch })
            if run.count >= 3 {
                if ch == "`" && t.dropFirst(run.count).contains("`") { return nil }
                return String(run)
            }
        }
        return nil
    }

    static func isFenceClose(_ line: String, _ fence: String) -> Bool {
        let t = line.trimmingCharacters(in: .whitespaces)
        return t.count >= fence.count && t.allSatisfy { $0 == fence.first! }
    }

    // MARK: The pass over one page

    mutating func prepare(text: String, source: String, output: String, chapter: String?) -> PreparedPage {
        var page = PreparedPage(source: source, output: output, chapter: chapter)
        let lines = Preprocessor.stripComments(text).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        var out: [String] = []
        var chunk: [(Int, String)] = []
        var stack: [Int] = []
        var counters: [Numbered: Int] = [:]
        var h2 = 0, h3 = 0, h4 = 0

        func next(_ kind: Numbered) -> (number: String, id: String) {
            counters[kind, default: 0] += 1
            let n = counters[kind]!
            let number = chapter.map { "\($0).\(n)" } ?? "\(n)"
            let id = "\(kind.rawValue)-" + (chapter.map { "\($0.lowercased())-\(n)" } ?? "\(n)")
            return (number, id)
        }

        func flush(_ me: inout Preprocessor) {
            guard !chunk.isEmpty else { return }
            // Headings: number them and cut out `{#sec:label}`.
            var texts: [String] = []
            for (lineNo, line) in chunk {
                var l = line
                let trimmed = l.drop(while: { $0 == " " })
                let hashes = trimmed.prefix(while: { $0 == "#" }).count
                if (1...6).contains(hashes) && l.count - trimmed.count <= 3 && (trimmed.count == hashes || trimmed.dropFirst(hashes).first == " ") {
                    var label: String?
                    if let r = l.range(of: #"\s*\{#([A-Za-z0-9_:\-]+)\}\s*$"#, options: .regularExpression) {
                        let attr = l[r].trimmingCharacters(in: .whitespaces)
                        label = String(attr.dropFirst(2).dropLast())
                        l.removeSubrange(r)
                    }
                    var number = "", id = ""
                    switch hashes {
                    case 2: h2 += 1; h3 = 0; h4 = 0; number = chapter.map { "\($0).\(h2)" } ?? ""; id = "sec-" + (chapter.map { "\($0.lowercased())-" } ?? "") + "\(h2)"
                    case 3: h3 += 1; h4 = 0; number = chapter.map { "\($0).\(h2).\(h3)" } ?? ""; id = "sec-" + (chapter.map { "\($0.lowercased())-" } ?? "") + "\(h2)-\(h3)"
                    case 4: h4 += 1; id = "sec-" + (chapter.map { "\($0.lowercased())-" } ?? "") + "\(h2)-\(h3)-\(h4)"
                    default: break
                    }
                    if hashes == 1 { number = chapter ?? ""; id = "top" }
                    if let label {
                        if !label.hasPrefix("sec:") {
                            me.error(page, lineNo, "a heading label must start with 'sec:', got '{#\(label)}'")
                        } else if hashes > 3 {
                            me.error(page, lineNo, "only headings of levels 1–3 can carry a label")
                        } else {
                            let text = hashes == 1 ? (chapter.map { Int($0) != nil ? "第 \($0) 章" : "附录 \($0)" } ?? "本页")
                                : (number.isEmpty ? "本页的第 \(h2) 节" : Numbered.section.display(number))
                            me.define(label, Target(kind: .section, page: output, id: id, number: number, text: text), page, lineNo)
                        }
                    }
                    page.headings.append((hashes, number, id, label))
                    page.cuts.append(.heading(level: hashes, label: label, line: lineNo))
                    l += Placeholder.token(page.cuts.count - 1)
                }
                texts.append(l)
            }
            out.append(me.scanInline(texts, firstLine: chunk[0].0, page: &page, next: next))
            chunk = []
        }

        var i = 0
        while i < lines.count {
            let line = lines[i]
            let lineNo = i + 1
            if let fence = Preprocessor.fenceOpen(line) {
                flush(&self)
                out.append(line)
                i += 1
                while i < lines.count && !Preprocessor.isFenceClose(lines[i], fence) { out.append(lines[i]); i += 1 }
                if i < lines.count { out.append(lines[i]); i += 1 } else { error(page, lineNo, "code block opened here is never closed with \(fence)") }
                continue
            }
            if line.hasPrefix(":::") {
                flush(&self)
                let rest = line.drop(while: { $0 == ":" }).trimmingCharacters(in: .whitespaces)
                if rest.isEmpty {
                    guard let top = stack.popLast() else {
                        error(page, lineNo, "':::' closes no open block"); i += 1; continue
                    }
                    let opened = page.blocks[top]
                    if opened.kind == "exercise" && !opened.hasAnswer {
                        error(page, opened.line, "练习 \(opened.number) has no answer: add '::: answer' … ':::' inside it")
                    }
                    var close = Block(kind: opened.kind, line: lineNo, title: "", attributes: [:])
                    close.isClose = true
                    close.opens = top
                    page.blocks.append(close)
                } else {
                    var b = parseBlock(rest, line: lineNo, page: page)
                    b.parent = stack.last
                    if b.kind == "answer" {
                        if let p = stack.last, page.blocks[p].kind == "exercise" {
                            if page.blocks[p].hasAnswer { error(page, lineNo, "练习 \(page.blocks[p].number) already has an answer") }
                            page.blocks[p].hasAnswer = true
                        } else {
                            error(page, lineNo, "'::: answer' must be inside a '::: exercise' block")
                        }
                    } else if !stack.isEmpty && b.kind != "figure" {
                        error(page, lineNo, "'::: \(b.kind)' cannot be nested inside '::: \(page.blocks[stack.last!].kind)'")
                    }
                    if let kind = b.numbered {
                        let (number, id) = next(kind)
                        b.number = number; b.id = id
                        if let label = b.label {
                            if !label.hasPrefix(kind.rawValue + ":") {
                                error(page, lineNo, "a '::: \(b.kind)' label must start with '\(kind.rawValue):', got '{#\(label)}'")
                            } else {
                                define(label, Target(kind: kind, page: output, id: id, number: number, text: kind.display(number)), page, lineNo)
                            }
                        }
                    } else if let label = b.label {
                        error(page, lineNo, "'::: \(b.kind)' cannot carry a label ('{#\(label)}')")
                    }
                    page.blocks.append(b)
                    stack.append(page.blocks.count - 1)
                }
                out.append("")
                out.append(Placeholder.marker(page.blocks.count - 1))
                out.append("")
                i += 1
                continue
            }
            if line.trimmingCharacters(in: .whitespaces).isEmpty {
                flush(&self)
                out.append(line)
            } else {
                chunk.append((lineNo, line))
            }
            i += 1
        }
        flush(&self)
        for b in stack { error(page, page.blocks[b].line, "'::: \(page.blocks[b].kind)' opened here is never closed with ':::'") }
        page.markdown = out.joined(separator: "\n") + "\n"
        return page
    }

    /// Parses `kind title words {#label key=value key="two words"}`.
    mutating func parseBlock(_ text: String, line: Int, page: PreparedPage) -> Block {
        var rest = text
        var attributes: [String: String] = [:]
        var label: String?
        if let open = rest.lastIndex(of: "{"), rest.hasSuffix("}") {
            let inner = rest[rest.index(after: open)..<rest.index(before: rest.endIndex)]
            rest = String(rest[..<open]).trimmingCharacters(in: .whitespaces)
            var s = Substring(inner)
            while true {
                s = s.drop(while: { $0 == " " })
                guard !s.isEmpty else { break }
                if s.first == "#" {
                    let word = s.prefix(while: { $0 != " " })
                    label = String(word.dropFirst()); s = s.dropFirst(word.count); continue
                }
                let key = s.prefix(while: { $0 != "=" && $0 != " " })
                s = s.dropFirst(key.count)
                guard s.first == "=" else { error(page, line, "attribute '\(key)' needs a value (\(key)=…)"); break }
                s = s.dropFirst()
                var value: Substring
                if s.first == "\"" {
                    s = s.dropFirst()
                    value = s.prefix(while: { $0 != "\"" })
                    s = s.dropFirst(value.count + 1)
                } else {
                    value = s.prefix(while: { $0 != " " })
                    s = s.dropFirst(value.count)
                }
                attributes[String(key)] = String(value)
            }
        }
        let kind = String(rest.prefix(while: { !$0.isWhitespace }))
        let title = rest.dropFirst(kind.count).trimmingCharacters(in: .whitespaces)
        var b = Block(kind: kind, line: line, title: title, attributes: attributes, label: label)
        b.numbered = Numbered.blocks[kind]
        guard Preprocessor.blockKinds.contains(kind) else {
            error(page, line, "unknown block '::: \(kind)' (known: \(Preprocessor.blockKinds.joined(separator: ", ")))")
            return b
        }
        switch kind {
        case "exercise":
            let words = title.split(separator: " ").map(String.init)
            guard let type = words.first(where: { Preprocessor.exerciseTypes.contains($0) }) else {
                error(page, line, "an exercise needs a type, one of \(Preprocessor.exerciseTypes.joined(separator: " / ")): '::: exercise 推导 ★★'")
                return b
            }
            let stars = title.filter { $0 == "★" }.count
            guard (1...3).contains(stars) else {
                error(page, line, "an exercise needs a difficulty of ★ to ★★★, got '\(title)'")
                return b
            }
            b.exerciseType = type; b.stars = stars
            b.title = words.filter { $0 != type && !$0.allSatisfy({ $0 == "★" }) }.joined(separator: " ")
        case "figure":
            guard let name = attributes["experiment"] else {
                error(page, line, "a figure needs an experiment: '::: figure {#fig:name experiment=forward-noising}'")
                return b
            }
            var params = attributes
            params["experiment"] = nil
            checkExperiment(name, params, line: line, page: page)
        case "lab":
            let name = title.split(separator: " ").first.map(String.init) ?? ""
            if labs[name] == nil {
                error(page, line, "unknown lab '\(name)' (known: \(labs.keys.sorted().joined(separator: ", ")); labs are listed in book.json)")
            }
        case "answer":
            if !title.isEmpty || !attributes.isEmpty { error(page, line, "'::: answer' takes no title or attributes") }
        default:
            break
        }
        return b
    }

    /// Records an experiment request after checking its name and parameters.
    @discardableResult
    mutating func checkExperiment(_ name: String, _ parameters: [String: String], line: Int, page: PreparedPage) -> Bool {
        guard let e = experiments[name] else {
            error(page, line, "unknown experiment '\(name)' (known: \(experiments.keys.sorted().joined(separator: ", ")))")
            return false
        }
        do { _ = try e.parameters(parameters) } catch {
            self.error(page, line, "\(error)")
            return false
        }
        requests.append((page.source, name, parameters, line))
        return true
    }

    var requests: [(source: String, name: String, parameters: [String: String], line: Int)] = []
}
