import Foundation
import Testing
@testable import DiffusionLabs

@Suite("Learner packages: files, path dependency, safe writing, locating the repository")
struct StudentPackageTests {
    static func l3() throws -> StudentPackage {
        let catalog = try repositoryCatalog()
        return try StudentPackage(labs: [catalog.lab("L3")!], catalog: catalog, library: repositoryRoot)
    }

    @Test func files() throws {
        let p = try Self.l3()
        #expect(p.name == "L3-ddpm")
        #expect(Set(p.files.keys) == ["Package.swift", "README.md", ".gitignore", ".diffusion-lab.json", "Sources/Lab/Unfinished.swift",
                                       "Sources/Lab/DDPM.swift", "Tests/LabTests/Grading.swift", "Tests/LabTests/DDPMTests.swift"])
        let manifest = try #require(p.files["Package.swift"])
        #expect(manifest.contains(".package(path: \"\(repositoryRoot.standardizedFileURL.path)\")"))
        #expect(manifest.contains("package: \"\(repositoryRoot.lastPathComponent.lowercased())\""))
        #expect(manifest.contains("name: \"Lab\"") && manifest.contains("name: \"LabTests\""))
        let skeleton = try #require(p.files["Sources/Lab/DDPM.swift"])
        #expect(skeleton.contains("throw Unfinished(\"ddpmLoss\")") && !skeleton.contains("BEGIN SOLUTION"))
        let readme = try #require(p.files["README.md"])
        #expect(readme.hasPrefix("# 实验 L3：") && readme.contains("- [ ] sampleDDPM") && readme.contains("diffusion lab check ."))
        let solution = try StudentPackage(labs: [try repositoryCatalog().lab("L3")!], catalog: try repositoryCatalog(), library: repositoryRoot, variant: .solution)
        #expect(solution.files["Sources/Lab/DDPM.swift"]?.contains("loss.backward()") == true)
    }

    @Test func writeRefusesNonEmptyUnlessForced() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let p = try Self.l3()
        let dir = root.appendingPathComponent("nested/l3")
        try p.write(to: dir, library: repositoryRoot)
        #expect(try StudentPackage.manifest(in: dir) == .init(labs: ["L3"], library: repositoryRoot.standardizedFileURL.path))
        #expect(try String(contentsOf: dir.appendingPathComponent("Sources/Lab/DDPM.swift"), encoding: .utf8) == p.files["Sources/Lab/DDPM.swift"])
        // Non-empty: refused, and nothing changes.
        try Data("my work".utf8).write(to: dir.appendingPathComponent("Sources/Lab/DDPM.swift"))
        do {
            try p.write(to: dir, library: repositoryRoot)
            Issue.record("a non-empty folder must be refused")
        } catch {
            #expect("\(error)".contains("不是空的") && "\(error)".contains("--force"))
        }
        #expect(try String(contentsOf: dir.appendingPathComponent("Sources/Lab/DDPM.swift"), encoding: .utf8) == "my work")
        // --force replaces generated entries and keeps the rest (the build folder).
        try FileManager.default.createDirectory(at: dir.appendingPathComponent(".build"), withIntermediateDirectories: true)
        try Data("x".utf8).write(to: dir.appendingPathComponent(".build/keep"))
        try Data("stale".utf8).write(to: dir.appendingPathComponent("Sources/Lab/Old.swift"))
        try p.write(to: dir, force: true, library: repositoryRoot)
        #expect(FileManager.default.fileExists(atPath: dir.appendingPathComponent(".build/keep").path))
        #expect(!FileManager.default.fileExists(atPath: dir.appendingPathComponent("Sources/Lab/Old.swift").path))
        #expect(try String(contentsOf: dir.appendingPathComponent("Sources/Lab/DDPM.swift"), encoding: .utf8) == p.files["Sources/Lab/DDPM.swift"])
        // An existing empty folder is fine; no staging folders are left behind.
        let empty = root.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        try p.write(to: empty, library: repositoryRoot)
        #expect(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted() == ["empty", "nested"])
    }

    @Test func neverWritesIntoTheRepository() throws {
        let p = try Self.l3()
        for target in [repositoryRoot, repositoryRoot.appendingPathComponent("labs/L3-ddpm"), repositoryRoot.deletingLastPathComponent()] {
            #expect(throws: LabCatalogError.self) { try p.write(to: target, force: true, library: repositoryRoot) }
        }
    }

    @Test func locatesTheRepository() throws {
        #expect(LabRepository.isRepository(LabRepository.buildTimeRoot))
        #expect(try LabRepository.locate(explicit: repositoryRoot.path) == repositoryRoot.standardizedFileURL)
        do {
            _ = try LabRepository.locate(explicit: "/nonexistent/place")
            Issue.record("a wrong --library must fail")
        } catch {
            #expect("\(error)".contains("--library") && "\(error)".contains("不是 DiffusionLab 仓库"))
        }
        let found = try LabRepository.locate(currentDirectory: repositoryRoot.appendingPathComponent("labs/L1-forward-process"), executable: nil)
        #expect(LabRepository.isRepository(found))
        #expect(StudentPackage.identity(ofPath: "/a/b/DiffusionLab") == "diffusionlab")
    }

    @Test func manifestErrors() throws {
        let root = try temporaryFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        do {
            _ = try StudentPackage.manifest(in: root)
            Issue.record("a folder without a manifest must fail")
        } catch {
            #expect("\(error)".contains("diffusion lab init"))
        }
    }
}
