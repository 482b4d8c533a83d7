import Foundation
import TestSupport
@testable import DiffusionBook

/// Paths and shared builds for the book tests.
enum Fixtures {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let fixtureBook = testsDir.appendingPathComponent("Fixtures/book")
    static let repoRoot = testsDir.deletingLastPathComponent().deletingLastPathComponent()
    static let realBook = repoRoot.appendingPathComponent("book")

    static func tempDir(_ name: String) -> URL {
        TemporaryFolder.make(name)
    }

    /// Renders a book in memory (with a private cache so tests never share state).
    static func render(_ source: URL, cache: URL? = nil, experiments: [BookExperiment] = BookExperiments.all,
                       version: String = BookExperiments.libraryVersion) throws -> ([String: [UInt8]], BuildReport) {
        let builder = BookBuilder(source: source, output: tempDir("unused").appendingPathComponent("site"), cache: cache,
                                  experiments: experiments, libraryVersion: version, log: { _ in })
        return try builder.render()
    }

    /// The fixture book, rendered once per test process (a failure is reported by every test that uses it).
    static let fixtureResult: Result<[String: [UInt8]], any Error> = Result { try render(fixtureBook, cache: tempDir("fixture-cache")).0 }
    static let realResult: Result<[String: [UInt8]], any Error> = Result { try render(realBook, cache: tempDir("real-cache")).0 }
    static func fixture() throws -> [String: [UInt8]] { try fixtureResult.get() }
    static func real() throws -> [String: [UInt8]] { try realResult.get() }

    static func page(_ files: [String: [UInt8]], _ name: String) -> String {
        String(decoding: files[name] ?? [], as: UTF8.self)
    }

    /// A copy of the fixture book in a temp folder, with `edit` applied to one file (for error tests).
    static func brokenBook(_ file: String, _ edit: (String) -> String) -> URL {
        let dir = tempDir("broken").appendingPathComponent("book")
        try! FileManager.default.copyItem(at: fixtureBook, to: dir)
        let url = dir.appendingPathComponent(file)
        let text = (try? String(contentsOf: url, encoding: .utf8)) ?? ""
        try! edit(text).write(to: url, atomically: true, encoding: .utf8)
        return dir
    }

    /// Texts of every `.math` element of a page, unescaped (what KaTeX will read).
    static func mathTexts(_ html: String) -> [String] {
        SiteChecker.matches(#"<(?:span|div) class="math (?:inline|display)">([^<]*)</(?:span|div)>"#, html).map { HTML.unescape($0) }
    }
}
