import Foundation
import Testing
@testable import DiffusionBook
@testable import DiffusionPlot

/// Counts runs of a test experiment (tests may run concurrently).
final class RunCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    func bump() { lock.lock(); n += 1; lock.unlock() }
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
}

@Suite("Experiment cache: keyed by name, parameters and library version")
struct ExperimentCacheTests {
    func book(_ scale: String) -> URL {
        let dir = Fixtures.tempDir("cachebook")
        try! #"{"title": "c", "chapters": []}"#.write(to: dir.appendingPathComponent("book.json"), atomically: true, encoding: .utf8)
        try! "# c\n\n值为 {{counted(scale=\(scale)).value}}。\n".write(to: dir.appendingPathComponent("index.md"), atomically: true, encoding: .utf8)
        return dir
    }

    @Test func cachedResultsAreReusedAndInvalidated() throws {
        let counter = RunCounter()
        let counted = BookExperiment(name: "counted", summary: "test", defaults: ["scale": "1"]) { p in
            counter.bump()
            return ExperimentResult(numbers: ["value": try p.double("scale") * 2])
        }
        let cache = Fixtures.tempDir("cache")
        func build(_ scale: String, version: String = "1.0") throws -> String {
            let (files, _) = try Fixtures.render(book(scale), cache: cache, experiments: [counted], version: version)
            return Fixtures.page(files, "index.html")
        }
        #expect(try build("3").contains("值为 <span class=\"num\""))
        #expect(counter.count == 1)
        _ = try build("3")
        #expect(counter.count == 1, "same name, parameters and version: served from the cache")
        #expect(try build("4").contains(">8</span>"))
        #expect(counter.count == 2, "a new parameter value reruns the experiment")
        _ = try build("4", version: "2.0")
        #expect(counter.count == 3, "a new library version reruns the experiment")
        let files = try FileManager.default.contentsOfDirectory(atPath: cache.path)
        #expect(files.count == 3 && files.allSatisfy { $0.hasSuffix(".json") && $0.count == 64 + 5 })
    }

    @Test func failingExperimentIsReportedWhereItIsUsed() throws {
        let broken = BookExperiment(name: "counted", summary: "fails", defaults: ["scale": "1"]) { _ in throw ExperimentError("out of memory, pretend") }
        #expect { try Fixtures.render(book("1"), experiments: [broken]) } throws: { e in
            "\(e)".contains("index.md:3: error: experiment 'counted' failed: out of memory, pretend")
        }
    }
}

@Suite("Search index: Chinese bigrams and English words")
struct SearchIndexTests {
    @Test func tokens() throws {
        #expect(SearchIndex.tokens("扩散模型 Diffusion-Models 2020") == ["扩散", "散模", "模型", "diffusion", "models", "2020"])
        #expect(SearchIndex.tokens("分数（score）函数") == ["分数", "score", "函数"])
    }

    @Test func findsChineseAndEnglishInTheBuiltIndex() throws {
        let js = Fixtures.page((try Fixtures.fixture()), "assets/search-index.js")
        #expect(js.hasPrefix("window.DL_SEARCH={"))
        let json = Data(js.dropFirst("window.DL_SEARCH=".count).dropLast(2).utf8)
        let index = try JSONDecoder().decode(SearchIndex.self, from: json)
        #expect(index.search("扩散模型").contains { $0.u == "index.html" })
        #expect(index.search("分数函数").contains { $0.u.hasPrefix("ch01.html#sec-1-1") })
        #expect(index.search("stochastic").contains { $0.u == "index.html" })
        #expect(index.search("stoch").contains { $0.u == "index.html" }, "English words match by prefix")
        #expect(index.search("前向过程").contains { $0.u == "ch01.html#sec-1-1" && $0.t.hasPrefix("1.1 前向过程") })
        #expect(index.search("不存在的词语").isEmpty)
        // Formulas are not indexed as words.
        #expect(index.search("mathbb").isEmpty)
    }
}

@Suite("Theme: contrast of every text colour pair ≥ 4.5:1 in both themes")
struct ThemeTests {
    @Test func contrast() throws {
        #expect(abs(Theme.contrast("#000000", "#ffffff") - 21) < 1e-9)
        for (name, theme) in [("light", Theme.light), ("dark", Theme.dark)] {
            for (fg, bg) in Theme.textPairs {
                let ratio = Theme.contrast(theme[fg]!, theme[bg]!)
                #expect(ratio >= 4.5, "\(name): \(fg) \(theme[fg]!) on \(bg) \(theme[bg]!) is \(ratio)")
            }
        }
    }

    @Test func stylesheetCarriesBothThemesAndThePlotPalette() throws {
        let css = Assets.css
        #expect(css.contains("html[data-theme=dark]{"))
        for k in 0..<8 { #expect(css.contains("--plot-c\(k):")) }
        // The plots' fallback palette is the light theme's, so a plot outside the site reads the same.
        for (k, c) in Plot.fallbackPalette.enumerated() { #expect(Theme.light["plot-c\(k)"] == c) }
    }
}
