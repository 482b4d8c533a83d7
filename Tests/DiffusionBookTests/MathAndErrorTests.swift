import Foundation
import Testing
@testable import DiffusionBook

@Suite("Formula fidelity: every formula's TeX reaches the page unchanged")
struct FormulaFidelityTests {
    @Test func fixtureFormulasArriveExactly() throws {
        let texts = Fixtures.mathTexts(Fixtures.page((try Fixtures.fixture()), "ch01.html"))
        let expected = [
            "a_b*c", #"\|x\|"#, "x^*_t", "y",
            "\nx_t = \\sqrt{\\bar\\alpha_t}\\, x_0 + \\sqrt{1-\\bar\\alpha_t}\\,\\varepsilon\n",
            "\n\\begin{aligned}\n\\mathbb{E}\\big[\\|x_t\\|^2\\big] &= \\bar\\alpha_t\\, \\mathbb{E}\\|x_0\\|^2 + (1-\\bar\\alpha_t)\\, d \\\\\n&= d \\quad \\text{when } \\mathbb{E}\\|x_0\\|^2 = d.\n\\end{aligned}\n",
            #"p_\theta(x_{t-1} \mid x_t)"#, #" D_{\mathrm{KL}}(q \,\|\, p) \ge 0 "#, #"\int_0^1 f(t)\,dt"#,
            #"D_{\mathrm{KL}}(p \,\|\, q)"#,
        ]
        for e in expected { #expect(texts.contains(e), "formula not found verbatim: \(e.debugDescription)") }
    }

    /// An extractor independent of the book's own scanner: every $…$ / $$…$$ outside code in book/index.md
    /// must appear, verbatim, as the text of a math element on the built front page.
    @Test func realFrontPageFormulasArriveExactly() throws {
        let source = try String(contentsOf: Fixtures.realBook.appendingPathComponent("index.md"), encoding: .utf8)
        var prose = ""
        var inFence = false
        for line in source.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("```") { inFence.toggle(); continue }
            if !inFence { prose += line.replacingOccurrences(of: #"`[^`]*`"#, with: "", options: .regularExpression) + "\n" }
        }
        let displays = SiteChecker.matches(#"\$\$([\s\S]+?)\$\$"#, prose)
        let withoutDisplays = prose.replacingOccurrences(of: #"\$\$[\s\S]+?\$\$"#, with: " ", options: .regularExpression)
        let inlines = SiteChecker.matches(#"\$([^$\n]+?)\$"#, withoutDisplays)
        #expect(displays.count >= 1 && inlines.count >= 30)
        let texts = Fixtures.mathTexts(Fixtures.page((try Fixtures.real()), "index.html"))
        #expect(texts.count == displays.count + inlines.count)
        for f in displays + inlines { #expect(texts.contains(f), "formula changed on its way to the page: \(f.debugDescription)") }
        #expect(texts.contains(#"\|x\|"#))
    }

    @Test func mathNeverBecomesEmphasisOrTableCells() throws {
        let ch = Fixtures.page((try Fixtures.fixture()), "ch01.html")
        #expect(!ch.contains("<em>c and"), "an underscore or star inside math became emphasis")
        // `|` inside math must not split the table row: two columns per row.
        let rows = SiteChecker.matches(#"<tr>([\s\S]*?)</tr>"#, ch)
        #expect(rows.count == 3)
        for r in rows { #expect(r.components(separatedBy: "<t").count - 1 == 2, "row split wrongly: \(r)") }
    }
}

@Suite("Bad Markdown gives a clear error with file and line, and writes nothing")
struct BookErrorTests {
    /// Builds a broken copy of the fixture over an existing site; the old site must survive untouched.
    func failure(_ file: String, _ edit: (String) -> String) throws -> BookBuildError {
        let book = Fixtures.brokenBook(file, edit)
        let out = book.deletingLastPathComponent().appendingPathComponent("out/site")
        try FileManager.default.createDirectory(at: out, withIntermediateDirectories: true)
        try "old".write(to: out.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
        let builder = BookBuilder(source: book, output: out, cache: nil, log: { _ in })
        do {
            try builder.build()
        } catch let e as BookBuildError {
            #expect(try String(contentsOf: out.appendingPathComponent("index.html"), encoding: .utf8) == "old", "a failed build touched the site")
            let siblings = try FileManager.default.contentsOfDirectory(atPath: out.deletingLastPathComponent().path)
            #expect(siblings == ["site"], "a failed build left files behind: \(siblings)")
            return e
        }
        Issue.record("the build should have failed")
        return BookBuildError([])
    }

    func expectError(_ file: String, line: Int, _ needle: String, _ edit: (String) -> String) throws {
        let e = try failure(file, edit)
        let match = e.diagnostics.first { $0.message.contains(needle) }
        #expect(match != nil, "no diagnostic mentions '\(needle)': \(e)")
        #expect(match?.file == "book/\(file)")
        #expect(match?.line == line, "\(String(describing: match))")
        #expect(e.description.contains("book/\(file):\(line): error:"))
    }

    @Test func unknownExperiment() throws {
        try expectError("ch01.md", line: 49, "unknown experiment 'no-such-thing'") { $0.replacingOccurrences(of: "experiment=noise-schedule", with: "experiment=no-such-thing") }
    }

    @Test func unknownExperimentParameter() throws {
        try expectError("ch01.md", line: 45, "has no parameter 'bogus'") { $0.replacingOccurrences(of: "n=300 steps", with: "bogus=1 steps") }
    }

    @Test func unknownNumber() throws {
        try expectError("ch01.md", line: 53, "gives no number 'nope'") { $0.replacingOccurrences(of: "{{noise-schedule.t_snr_below_1}}", with: "{{noise-schedule.nope}}") }
    }

    @Test func unresolvedReference() throws {
        try expectError("appendix-a.md", line: 3, "unresolved reference '@fig:missing'") { $0.replacingOccurrences(of: "@fig:forward", with: "@fig:missing") }
    }

    @Test func unresolvedCitation() throws {
        try expectError("ch01.md", line: 10, "unknown citation '@nobody1999'") { $0.replacingOccurrences(of: "[@ho2020ddpm]，连续", with: "[@nobody1999]，连续") }
    }

    @Test func unterminatedInlineMath() throws {
        try expectError("index.md", line: 3, "unterminated inline math") { $0.replacingOccurrences(of: "其中的关键公式", with: "其中 $x_0 的关键公式") }
    }

    @Test func unterminatedDisplayMath() throws {
        try expectError("appendix-a.md", line: 9, "unterminated display math") { $0 + "\n$$\nx = 1\n" }
    }

    @Test func exerciseWithoutAnswer() throws {
        try expectError("ch01.md", line: 80, "练习 1.1 has no answer") {
            $0.replacingOccurrences(of: "::: answer\n由独立性，$\\operatorname{Var}[x_t] = \\bar\\alpha_t I + (1-\\bar\\alpha_t) I = I$。\n:::\n", with: "")
        }
    }

    @Test func badExerciseHeader() throws {
        try expectError("ch01.md", line: 80, "an exercise needs a type") { $0.replacingOccurrences(of: "::: exercise 推导 ★ {#ex:variance}", with: "::: exercise 证明 ★ {#ex:variance}") }
    }

    @Test func unknownBlockAndUnclosedBlock() throws {
        try expectError("index.md", line: 7, "unknown block '::: sidebar'") { $0 + "\n::: sidebar\nx\n:::\n" }
        try expectError("index.md", line: 7, "never closed") { $0 + "\n::: remark\nx\n" }
    }

    @Test func duplicateLabel() throws {
        try expectError("appendix-a.md", line: 9, "label 'eq:forward' is already defined at book/ch01.md:12") { $0 + "\n$$ y $$ {#eq:forward}\n" }
    }

    @Test func missingKatexNamesThePackage() throws {
        let builder = BookBuilder(source: Fixtures.fixtureBook, output: Fixtures.tempDir("nokatex").appendingPathComponent("site"),
                                  katex: URL(fileURLWithPath: "/nonexistent/katex"), log: { _ in })
        #expect { try builder.build() } throws: { e in
            "\(e)".contains("/nonexistent/katex/katex.min.js") && "\(e)".contains("apt-get install libjs-katex")
        }
    }
}
