import Foundation
import Testing
@testable import DiffusionBook

@Suite("Citations and headings: labels, locators, same author-year")
struct CitationAndHeadingTests {
    @Test func headingWithMathBeforeItsLabelKeepsIdAndNumber() throws {
        let book = Fixtures.brokenBook("ch01.md") { $0.replacingOccurrences(of: "## 前向过程 {#sec:forward}", with: "## 前向过程 $q(x_t \\mid x_0)$ 的性质 {#sec:forward}") }
        let (site, _) = try Fixtures.render(book, cache: Fixtures.tempDir("heading-cache"))
        let ch = Fixtures.page(site, "ch01.html")
        let heading = try #require(SiteChecker.matches(#"(<h2 id="[^"]+">[^<]*<span class="num">[\s\S]*?前向过程[\s\S]*?</h2>)"#, ch).first, "the heading lost its id")
        #expect(heading.contains("<span class=\"num\">1.1</span>"), "\(heading)")
        #expect(heading.contains("math inline"), "the formula must stay in the heading: \(heading)")
        #expect(!heading.contains("{#sec"), "\(heading)")
    }

    @Test func everyCitationKeepsItsOwnLocator() throws {
        let book = Fixtures.brokenBook("ch01.md") { $0 + "\n两处出处 [@ho2020ddpm, 第 2 节; @song2021sde, 第 3 节]。\n" }
        let (site, _) = try Fixtures.render(book, cache: Fixtures.tempDir("locator-cache"))
        let ch = Fixtures.page(site, "ch01.html")
        #expect(ch.contains("Ho et al., 2020</a>, 第 2 节; <a href=\"bibliography.html#ref-song2021sde\">Song et al., 2021</a>, 第 3 节]"))
    }

    @Test func sameAuthorYearGetsSuffixesInTitleOrder() throws {
        let bib = try Bibliography(bibtex: """
            @article{b, author = {Song, Yang and Ermon, Stefano and Poole, Ben}, title = {Zeta}, year = {2021}}
            @article{a, author = {Song, Jiaming and Meng, Chenlin and Ermon, Stefano}, title = {Alpha}, year = {2021}}
            @article{c, author = {Song, Yang and Kingma, Diederik}, title = {Other}, year = {2021}}
            @article{d, author = {Song, Yang and Ermon, Stefano and X, Y}, title = {Later}, year = {2022}}
            """, file: "t.bib")
        #expect(bib.entries["a"]!.citationLabel == "Song et al., 2021a")
        #expect(bib.entries["b"]!.citationLabel == "Song et al., 2021b")
        #expect(bib.entries["c"]!.citationLabel == "Song & Kingma, 2021")
        #expect(bib.entries["d"]!.citationLabel == "Song et al., 2022")
        #expect(bib.entries["b"]!.referenceHTML.contains("(2021b)."))
    }
}
