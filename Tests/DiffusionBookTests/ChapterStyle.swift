import Foundation
import Testing
@testable import DiffusionBook

/// What BOOK-STYLE.md asks of every chapter, checked on its Markdown source and on its rendered page:
/// ≥ 12 typed exercises with one folded answer each and rising difficulty (computations quote a library number,
/// programming answers name a lab or library API), ≥ 3 figures from the chapter's own experiments whose captions say
/// what to notice, ≥ 6 research leads citing an arXiv paper, the lab box, a summary, and a link from the front page.
struct ChapterStyle {
    let number: String
    let file: String
    let experiments: [BookExperiment]
    var lab: String? = nil
    /// A programming exercise's answer must name one of these (a lab or library API).
    var programmingNames: [String]
    /// The summary's heading (appendices say 本附录小结).
    var summary = "## 本章小结"
    /// nil: every research lead cites an arXiv paper; n: every lead cites the bibliography and at least n cite
    /// arXiv papers (appendices also point to classic books).
    var arxivLeads: Int? = nil

    var source: URL { Fixtures.realBook.appendingPathComponent(file) }
    var pageName: String { BookManifest.outputName(number) }

    func checkSource(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let n = number, loc = sourceLocation
        let text = try String(contentsOf: source, encoding: .utf8)
        let all = ChapterStyle.blocks(text)
        let exercises = all.filter { $0.kind == "exercise" }
        #expect(exercises.count >= 12, "\(exercises.count) exercises", sourceLocation: loc)
        var lastStars = 0
        for (i, e) in exercises.enumerated() {
            let id = "练习 \(n).\(i + 1)"
            #expect(e.body.components(separatedBy: "::: answer").count - 1 == 1, "\(id) needs exactly one answer", sourceLocation: loc)
            let type = ["推导", "计算", "编程", "挑战"].first { e.header.contains($0) }
            #expect(type != nil, "\(id) has no type", sourceLocation: loc)
            let stars = e.header.filter { $0 == "★" }.count
            #expect((1...3).contains(stars) && stars >= lastStars, "\(id): difficulty must rise", sourceLocation: loc)
            lastStars = stars
            let answer = e.body.components(separatedBy: "::: answer").last ?? ""
            let prefix = experiments.first.map { String($0.name.prefix { $0 != "-" }) + "-" } ?? "?"
            if type == "计算" { #expect(answer.contains("{{\(prefix)"), "\(id) must quote a computed number", sourceLocation: loc) }
            if type == "编程" {
                #expect(answer.contains("`") && programmingNames.contains { answer.contains($0) },
                        "\(id) must name the lab or a library API (\(programmingNames))", sourceLocation: loc)
            }
        }
        for type in ["推导", "计算", "编程", "挑战"] { #expect(exercises.contains { $0.header.contains(type) }, "no \(type) exercise", sourceLocation: loc) }

        let figures = all.filter { $0.kind == "figure" }
        #expect(figures.count >= 3, sourceLocation: loc)
        let mine = Set(experiments.map(\.name))
        for f in figures {
            let name = f.header.components(separatedBy: "experiment=").last?.split(separator: " ").first
                .map { String($0).trimmingCharacters(in: CharacterSet(charactersIn: "}")) }
            #expect(name.map { mine.contains($0) } == true, "figure \(f.header) is not one of this chapter's experiments", sourceLocation: loc)
            #expect(f.body.contains("注意"), "the caption of \(f.header) should say what to notice", sourceLocation: loc)
        }

        let bib = try Bibliography(bibtex: try String(contentsOf: Fixtures.realBook.appendingPathComponent("references.bib"), encoding: .utf8),
                                   file: "references.bib")
        let leads = all.filter { $0.kind == "research" }
        #expect(leads.count >= 6, sourceLocation: loc)
        var arxivCount = 0
        for l in leads {
            let keys = SiteChecker.matches(#"@([A-Za-z0-9_-]+)[\];,]"#, l.body)
            let ids = keys.compactMap { bib.entries[$0]?.fields["eprint"] }
            let citesArxiv = ids.contains { $0.range(of: #"^\d{4}\.\d{4,5}$"#, options: .regularExpression) != nil }
            if citesArxiv { arxivCount += 1 }
            if arxivLeads == nil { #expect(citesArxiv, "lead '\(l.header)' cites no arXiv paper", sourceLocation: loc) }
            else { #expect(!keys.isEmpty && keys.allSatisfy { bib.entries[$0] != nil }, "lead '\(l.header)' cites nothing or an unknown key", sourceLocation: loc) }
            #expect(l.body.contains("第一个实验") && l.body.contains("为什么仍然开放"), "lead '\(l.header)' lacks its parts", sourceLocation: loc)
        }
        if let arxivLeads { #expect(arxivCount >= arxivLeads, "\(arxivCount) leads cite arXiv papers", sourceLocation: loc) }
        if let lab { #expect(text.contains("::: lab \(lab)"), sourceLocation: loc) }
        #expect(text.contains(summary), sourceLocation: loc)
        // Numbers are never substituted inside math: they would reach KaTeX as literal braces.
        for m in SiteChecker.matches(#"(\$\$[\s\S]*?\$\$|\$[^$\n]+\$)"#, text) {
            #expect(!m.contains("{{"), "a computed number inside math: \(m)", sourceLocation: loc)
        }
    }

    /// The appendices' conventions on top of `checkSource`: an opening with goals and prerequisites, programming
    /// answers that show Swift code, no `\_` inside math. Returns the source for the appendix's own checks.
    func checkAppendixSource(sourceLocation: SourceLocation = #_sourceLocation) throws -> String {
        let loc = sourceLocation
        try checkSource(sourceLocation: loc)
        let text = try String(contentsOf: source, encoding: .utf8)
        #expect(text.contains("**学完本附录，你应当能够：**") && text.contains("**预备知识：**"), sourceLocation: loc)
        for exercise in ChapterStyle.blocks(text) where exercise.kind == "exercise" && exercise.header.contains("编程") {
            #expect(exercise.body.components(separatedBy: "::: answer").last!.contains("```swift"), "编程题 \(exercise.header) must show code", sourceLocation: loc)
        }
        for m in SiteChecker.matches(#"(\$\$[\s\S]*?\$\$|\$[^$\n]+\$)"#, text) { #expect(!m.contains("\\_"), "\\_ inside math: \(m)", sourceLocation: loc) }
        return text
    }

    func checkPage(sourceLocation: SourceLocation = #_sourceLocation) throws {
        let loc = sourceLocation
        let site = try Fixtures.real()
        let page = Fixtures.page(site, pageName)
        let exercises = SiteChecker.sections(page, open: "<section class=\"exercise\"", close: "</section>")
        #expect(exercises.count >= 12, sourceLocation: loc)
        for (k, e) in exercises.enumerated() {
            #expect(e.contains("练习 \(number).\(k + 1)") && e.contains("<details class=\"answer\"><summary>参考答案</summary>"), sourceLocation: loc)
        }
        let figures = SiteChecker.sections(page, open: "<figure class=\"figure\"", close: "</figure>")
        #expect(figures.count >= 3 && figures.allSatisfy { $0.contains("<svg") && $0.contains("<figcaption>") }, sourceLocation: loc)
        #expect(page.components(separatedBy: "<section class=\"callout research\"").count - 1 >= 6, sourceLocation: loc)
        // "??" marks an unresolved reference; Swift's ?? operator in a listing is fine.
        let prose = page.replacingOccurrences(of: #"<pre[\s\S]*?</pre>"#, with: "", options: .regularExpression)
        #expect(!page.contains("{{") && !prose.contains("??"), sourceLocation: loc)
        if let lab { #expect(page.contains("<aside class=\"callout lab\" id=\"lab-\(lab)\">"), sourceLocation: loc) }
        #expect(SiteChecker.matches(#"(<h[23]>)"#, page).isEmpty, "every section heading is numbered and has an anchor", sourceLocation: loc)
        #expect(Fixtures.page(site, "index.html").contains("href=\"\(pageName)\""), "the front page does not link \(pageName)", sourceLocation: loc)
        // `diffusion book check` runs exactly this check on the rendered book.
        let r = SiteChecker.check(site)
        #expect(r.problems.isEmpty, "\(r.problems.joined(separator: "\n"))", sourceLocation: loc)
    }

    struct Block { let kind: String; let header: String; let body: String }

    /// `::: kind header` … matching `:::` blocks at the top level, with nested answers kept in the body.
    static func blocks(_ text: String) -> [Block] {
        var out: [Block] = []
        var stack: [(kind: String, header: String, lines: [String])] = []
        var inFence = false
        for line in text.components(separatedBy: "\n") {
            if line.hasPrefix("```") { inFence.toggle() }
            if inFence { if !stack.isEmpty { stack[stack.count - 1].lines.append(line) }; continue }
            if line.hasPrefix(":::") {
                let rest = line.dropFirst(3).trimmingCharacters(in: .whitespaces)
                if rest.isEmpty {
                    let b = stack.removeLast()
                    if stack.isEmpty { out.append(Block(kind: b.kind, header: b.header, body: b.lines.joined(separator: "\n"))) }
                    else { stack[stack.count - 1].lines += b.lines + [line] }
                } else {
                    let kind = String(rest.prefix { !$0.isWhitespace })
                    if !stack.isEmpty { stack[stack.count - 1].lines.append(line) }
                    stack.append((kind, rest, []))
                }
                continue
            }
            if !stack.isEmpty { stack[stack.count - 1].lines.append(line) }
        }
        return out
    }
}

/// What every chapter's tests need: run a registered experiment at given parameters, compare numbers.
protocol ExperimentChecks {}

extension ExperimentChecks {
    static func run(_ name: String, _ parameters: [String: String] = [:]) throws -> [String: Double] {
        let e = try #require(BookExperiments.all.first { $0.name == name }, "experiment \(name) is not registered")
        return try e.run(try e.parameters(parameters)).numbers
    }

    /// |a − b| ≤ max(abs, rel·max(|a|, |b|)); a missing number is never close.
    static func close(_ a: Double?, _ b: Double, rel: Double = 1e-12, abs: Double = 0) -> Bool {
        guard let a else { return false }
        return Swift.abs(a - b) <= Swift.max(abs, rel * Swift.max(Swift.abs(a), Swift.abs(b)))
    }
}
