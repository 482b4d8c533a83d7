import Foundation
import Testing
@testable import DiffusionBook

@Suite("Book build: site structure, links, exercises, figures, determinism")
struct BookBuildTests {
    @Test func fixtureSiteHasNoBrokenLinksOrAnchors() throws {
        let r = SiteChecker.check((try Fixtures.fixture()))
        #expect(r.problems.isEmpty, "\(r.problems.joined(separator: "\n"))")
        #expect(r.pages == 5)  // index, ch01, appendix-a, bibliography, generate
        #expect(r.links > 50)
    }

    @Test func realBookBuildsAndChecksClean() throws {
        let r = SiteChecker.check((try Fixtures.real()))
        #expect(r.problems.isEmpty, "\(r.problems.joined(separator: "\n"))")
        #expect((try Fixtures.real())["index.html"] != nil)
        #expect((try Fixtures.real())["bibliography.html"] != nil)
        // The front page shows the forward-process figure computed at build time, and every chapter is listed.
        let index = Fixtures.page((try Fixtures.real()), "index.html")
        #expect(index.contains("data-experiment=\"forward-noising\""))
        // Every chapter without a file is listed twice as 撰写中 (front-page list and table of contents).
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: Fixtures.realBook.appendingPathComponent("book.json"))) as! [String: Any]
        let entries = (manifest["chapters"] as! [[String: Any]]) + (manifest["appendices"] as! [[String: Any]])
        let unwritten = entries.filter { $0["file"] == nil }.count
        #expect(index.components(separatedBy: "撰写中").count - 1 >= 2 * unwritten)
        #expect(!index.contains("{{"))
        // A line break inside a Chinese paragraph must not become a space.
        #expect(index.contains("编程实验。读完它"))
        #expect(index.contains("输出到 out/site/</span>\n.build/release/"), "code blocks keep their line breaks")
    }

    @Test func everyExerciseHasAFoldedAnswerAndIsNumbered() throws {
        let ch = Fixtures.page((try Fixtures.fixture()), "ch01.html")
        let exercises = SiteChecker.sections(ch, open: "<section class=\"exercise\"", close: "</section>")
        #expect(exercises.count == 4)
        for (k, e) in exercises.enumerated() {
            #expect(e.contains("id=\"ex-1-\(k + 1)\""))
            #expect(e.contains("练习 1.\(k + 1)"))
            #expect(e.contains("<details class=\"answer\"><summary>参考答案</summary>"))
        }
        #expect(exercises[0].contains("<span class=\"tag\">推导</span>") && exercises[0].contains("★</span>"))
        #expect(exercises[2].contains("<span class=\"tag\">编程</span>") && exercises[2].contains("★★★"))
        #expect(exercises[3].contains("开放题"))
        // The question stays outside the fold.
        let body = exercises[0].components(separatedBy: "<details")[0]
        #expect(body.contains("证明"))
    }

    @Test func everyFigureExistsWithItsSVGAndCaption() throws {
        let ch = Fixtures.page((try Fixtures.fixture()), "ch01.html")
        let figures = SiteChecker.sections(ch, open: "<figure class=\"figure\"", close: "</figure>")
        #expect(figures.count == 2)
        for (k, f) in figures.enumerated() {
            #expect(f.contains("id=\"fig-1-\(k + 1)\""))
            #expect(f.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(f.contains("<figcaption><p><a class=\"figure-num\" href=\"#fig-1-\(k + 1)\">图 1.\(k + 1)</a>"))
        }
        // n=300, steps=0,100,1000 → three panels titled by t.
        #expect(figures[0].contains(">t = 100<") && figures[0].contains(">t = 1000<") && !figures[0].contains(">t = 50<"))
    }

    @Test func crossReferencesResolveAcrossPages() throws {
        let ch = Fixtures.page((try Fixtures.fixture()), "ch01.html")
        #expect(ch.contains("<a class=\"xref\" href=\"#eq-1-1\">式 (1.1)</a>"))
        #expect(ch.contains("<a class=\"xref\" href=\"#fig-1-2\">图 1.2</a>"))
        #expect(ch.contains("<a class=\"xref\" href=\"#def-1-1\">定义 1.1</a>"))
        #expect(ch.contains("<a class=\"xref\" href=\"#thm-1-1\">定理 1.1</a>"))
        #expect(ch.contains("<a class=\"xref\" href=\"#sec-1-1\">第 1.1 节</a>"))
        #expect(ch.contains("<a class=\"xref\" href=\"#ex-1-1\">练习 1.1</a>"))
        #expect(ch.contains("<a class=\"xref\" href=\"#lead-1-1\">研究线索 1.1</a>"))
        #expect(ch.contains("<div class=\"equation\" id=\"eq-1-1\"><div class=\"math display\">"))
        #expect(ch.contains("<span class=\"eqno\">(1.2)</span>"))
        #expect(ch.contains("<h2 id=\"sec-1-1\"><span class=\"num\">1.1</span> 前向过程"))
        #expect(ch.contains("<h3 id=\"sec-1-1-1\"><span class=\"num\">1.1.1</span> 图与数字"))
        let app = Fixtures.page((try Fixtures.fixture()), "appendix-a.html")
        #expect(app.contains("<a class=\"xref\" href=\"ch01.html#eq-1-1\">式 (1.1)</a>"))
        #expect(app.contains("<a class=\"xref\" href=\"ch01.html#top\">第 1 章</a>"))
        #expect(app.contains("<a class=\"xref\" href=\"#eq-a-1\">式 (A.1)</a>"))
        let index = Fixtures.page((try Fixtures.fixture()), "index.html")
        #expect(index.contains("href=\"ch01.html#eq-1-1\""))
    }

    @Test func citationsAndBibliographyPage() throws {
        let ch = Fixtures.page((try Fixtures.fixture()), "ch01.html")
        #expect(ch.contains("<span class=\"cite\">[<a href=\"bibliography.html#ref-ho2020ddpm\">Ho et al., 2020</a>]</span>"))
        #expect(ch.contains("Song et al., 2021</a>, 第 3 节]"))
        #expect(ch.contains("Ho et al., 2020</a>; <a href=\"bibliography.html#ref-song2021sde\">Song et al., 2021</a>]"))
        let bib = Fixtures.page((try Fixtures.fixture()), "bibliography.html")
        #expect(bib.contains("id=\"ref-ho2020ddpm\"") && bib.contains("id=\"ref-song2021sde\""))
        #expect(bib.contains("<cite>Score-Based Generative Modeling through Stochastic Differential Equations</cite>"))
        #expect(!bib.contains("Never Cited"), "only cited works are listed")
    }

    @Test func computedNumbersBlocksAndLabsAppear() throws {
        let ch = Fixtures.page((try Fixtures.fixture()), "ch01.html")
        #expect(!ch.contains("{{") && !ch.contains("??"))
        #expect(ch.contains(">300</span>"))   // n of the figure's run
        #expect(ch.contains(">4.036 × 10⁻⁵</span>"))  // ᾱ_1000 of the linear schedule
        #expect(ch.contains("<section class=\"callout definition\" id=\"def-1-1\"><header class=\"callout-head\"><a href=\"#def-1-1\">定义 1.1</a>（分数函数）</header>"))
        #expect(ch.contains("<section class=\"callout remark\" id=\"rem-1-1\">"))
        #expect(ch.contains("研究线索 1.1</a>：最优调度"))
        #expect(ch.contains("<aside class=\"callout lab\" id=\"lab-forward-process\">"))
        #expect(ch.contains("<code>diffusion lab forward-process</code>"))
        #expect(ch.contains("<div class=\"table-wrap\"><table>"))
        #expect(ch.contains("<div class=\"code-block\"><pre><code class=\"language-swift\">"))
        #expect(ch.contains("<span class=\"hl-kw\">let</span>"))
        #expect(ch.contains("class=\"footnotes\""))
        #expect(ch.contains("it costs $5"))
        // Book syntax inside code stays literal.
        #expect(ch.contains("@eq:forward [@nokey]"))
        #expect(ch.contains("<code>let s = &quot;$x$&quot;</code>"))
    }

    @Test func navigationSidebarOutlineAndPager() throws {
        let ch = Fixtures.page((try Fixtures.fixture()), "ch01.html")
        #expect(ch.contains("<a href=\"ch01.html\" aria-current=\"page\"><span class=\"num\">1</span>冒烟测试章</a>"))
        #expect(ch.contains("尚未写成的一章<span class=\"badge\">撰写中</span>"))
        #expect(ch.contains("<link rel=\"prev\" href=\"index.html\">") && ch.contains("<link rel=\"next\" href=\"appendix-a.html\">"))
        #expect(ch.contains("<aside class=\"outline\" aria-label=\"本页目录\">"))
        #expect(ch.contains("<li class=\"l3\"><a href=\"#sec-1-1-1\">1.1.1 图与数字</a></li>"))
        let bib = Fixtures.page((try Fixtures.fixture()), "bibliography.html")
        #expect(bib.contains("<link rel=\"prev\" href=\"appendix-a.html\">") && bib.contains("<link rel=\"next\" href=\"generate.html\">"))
        let generator = Fixtures.page((try Fixtures.fixture()), "generate.html")
        #expect(generator.contains("<link rel=\"prev\" href=\"bibliography.html\">") && !generator.contains("rel=\"next\""))
        #expect(generator.contains("<a href=\"generate.html\" aria-current=\"page\">在线生成</a>"))
        #expect(generator.contains("<script defer src=\"assets/generate.js\"></script>"))
    }

    @Test func nothingInternalIsPublished() throws {
        for site in [(try Fixtures.fixture()), (try Fixtures.real())] {
            for (path, bytes) in site {
                #expect(!path.hasSuffix(".md") && !path.hasSuffix(".bib") && !path.contains("cache") && !path.hasPrefix("__test__") && path != "book.json", "\(path)")
                if path.hasSuffix(".html") || path.hasSuffix(".js") {
                    let text = String(decoding: bytes, as: UTF8.self)
                    #expect(!text.contains("DRAFT-SECRET"), "\(path) publishes a draft comment")
                    #expect(!text.contains("<!--dl:"), "\(path) leaks a block marker")
                    #expect(!text.unicodeScalars.contains("\u{E000}"), "\(path) leaks a placeholder")
                }
            }
        }
    }

    @Test func twoBuildsAreByteIdentical() throws {
        // Cold cache, then warm cache, into two folders: every file must be identical.
        let root = Fixtures.tempDir("twice")
        let cache = root.appendingPathComponent("cache")
        for name in ["a", "b"] {
            try BookBuilder(source: Fixtures.fixtureBook, output: root.appendingPathComponent(name), cache: cache, log: { _ in }).build()
        }
        let a = try SiteWriter.read(root.appendingPathComponent("a")), b = try SiteWriter.read(root.appendingPathComponent("b"))
        #expect(a.count > 60)
        #expect(Set(a.keys) == Set(b.keys))
        for (path, bytes) in a { #expect(b[path] == bytes, "\(path) differs between two builds") }
        #expect(!FileManager.default.fileExists(atPath: root.appendingPathComponent("a/cache").path))
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix(".") }
        #expect(leftovers.isEmpty, "temporary folders left behind: \(leftovers)")
    }

    @Test func katexIsCopiedIntoTheSite() throws {
        #expect((try Fixtures.fixture())["assets/katex/katex.min.js"] != nil)
        #expect((try Fixtures.fixture())["assets/katex/katex.min.css"] != nil)
        #expect((try Fixtures.fixture()).keys.contains { $0.hasPrefix("assets/katex/fonts/") && $0.hasSuffix(".woff2") })
    }
}
