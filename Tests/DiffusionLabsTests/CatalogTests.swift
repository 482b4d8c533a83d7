import Foundation
import Testing
@testable import DiffusionLabs

@Suite("The labs folder: metadata, markers, hints, and the registries that must list every lab")
struct CatalogTests {
    @Test func labsLoad() throws {
        let catalog = try repositoryCatalog()
        #expect(catalog.labs.map(\.id) == ["L1", "L3", "L4", "L5", "L6", "L7", "L8", "L9", "L12", "L14"])
        #expect(catalog.labs.map(\.chapter) == ["1", "3", "4", "5", "6", "7", "8", "9", "12", "14"])
        for lab in catalog.labs {
            #expect(!lab.exercises.isEmpty && !lab.title.isEmpty && !lab.summary.isEmpty, "\(lab.id)")
            #expect(Set(lab.exercises).count == lab.exercises.count, "\(lab.id): exercise names repeat")
        }
        #expect(catalog.lab("l3")?.folder == "L3-ddpm" && catalog.lab("L3-ddpm")?.id == "L3" && catalog.lab("L2") == nil)
    }

    @Test("every lab test has a Chinese hint, and skeletons keep every signature")
    func testsHaveHintsAndSkeletonsKeepSignatures() throws {
        let catalog = try repositoryCatalog()
        for lab in catalog.labs {
            for url in try catalog.tests(of: lab) {
                let text = try String(contentsOf: url, encoding: .utf8)
                let tests = text.components(separatedBy: "@Test(").count - 1
                let hints = text.components(separatedBy: ".hint(\"").count - 1
                #expect(tests > 0 && tests == hints, "\(url.lastPathComponent): \(tests) tests but \(hints) hints")
            }
            for url in try catalog.sources(of: lab) {
                let source = try LabSource(contentsOf: url)
                let skeleton = source.skeleton()
                #expect(!skeleton.contains("SOLUTION"))
                #expect(skeleton.components(separatedBy: "throw Unfinished(").count - 1 == source.regions.count)
                let solution = source.lines.joined(separator: "\n")
                #expect(skeleton.components(separatedBy: "public func ").count == solution.components(separatedBy: "public func ").count)
            }
        }
    }

    @Test("book/book.json registers every lab with its title and folder")
    func bookRegistry() throws {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("book/book.json"))
        let book = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let registry = try #require(book["labs"] as? [String: [String: Any]])
        let catalog = try repositoryCatalog()
        #expect(Set(registry.keys) == Set(catalog.labs.map(\.id)))
        for lab in catalog.labs {
            let entry = try #require(registry[lab.id], "\(lab.id) missing from book.json")
            #expect(entry["title"] as? String == lab.title, "\(lab.id): title differs from lab.json")
            #expect(entry["path"] as? String == "labs/\(lab.folder)")
            #expect((entry["command"] as? String)?.hasPrefix("diffusion lab init \(lab.id) ") == true)
        }
    }

    @Test("Package.swift compiles exactly the lab folders")
    func packageListsLabs() throws {
        let manifest = try String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        let line = try #require(manifest.components(separatedBy: "\n").first { $0.hasPrefix("let labFolders = [") })
        let listed = line.components(separatedBy: "\"").enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
        #expect(listed == [LabCatalog.supportFolder] + (try repositoryCatalog()).labs.map(\.folder))
    }

    @Test func badLabFolders() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        #expect(throws: LabCatalogError.self) { try LabCatalog(folder: root) }
        let fm = FileManager.default
        try fm.createDirectory(at: root.appendingPathComponent("Support/Sources"), withIntermediateDirectories: true)
        let lab = root.appendingPathComponent("L5-x")
        try fm.createDirectory(at: lab.appendingPathComponent("Sources"), withIntermediateDirectories: true)
        try fm.createDirectory(at: lab.appendingPathComponent("Tests"), withIntermediateDirectories: true)
        try Data(#"{"id": "L5", "title": "t", "chapter": "5", "summary": "s"}"#.utf8).write(to: lab.appendingPathComponent("lab.json"))
        try Data("func f() throws {\n    // BEGIN SOLUTION f\n}\n".utf8).write(to: lab.appendingPathComponent("Sources/F.swift"))
        do {
            _ = try LabCatalog(folder: root)
            Issue.record("an unclosed marker must fail")
        } catch let error as LabSourceError {
            #expect(error.description.hasPrefix("labs/L5-x/Sources/F.swift:2: "), "\(error)")
        }
        try Data("func f() throws {\n    // BEGIN SOLUTION f\n    // END SOLUTION\n}\n".utf8).write(to: lab.appendingPathComponent("Sources/F.swift"))
        #expect(try LabCatalog(folder: root).labs.map(\.exercises) == [["f"]])
        try Data("// BEGIN SOLUTION t\n// END SOLUTION\n".utf8).write(to: lab.appendingPathComponent("Tests/T.swift"))
        #expect(throws: LabSourceError.self) { try LabCatalog(folder: root) }
    }
}
