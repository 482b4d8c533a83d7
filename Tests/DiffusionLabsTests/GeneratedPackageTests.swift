import Foundation
import Testing
@testable import DiffusionLabs

/// The end-to-end check of the generated packages: all labs' skeletons and tests as ONE learner package that depends on
/// this repository by path, built with SwiftPM in a child process (the path a learner takes). Every test must fail, and
/// with the stub's message. The build folder persists next to this test run's own (`<scratch>/lab-skeletons/`), so
/// after the first run only the small `Lab` module is rebuilt. Set DIFFUSIONLAB_SKIP_PACKAGE_BUILD=1 to skip.
@Suite("Generated learner packages build against this repository", .serialized,
       .enabled(if: ProcessInfo.processInfo.environment["DIFFUSIONLAB_SKIP_PACKAGE_BUILD"] == nil))
struct GeneratedPackageTests {
    /// The SwiftPM scratch folder of this test run (holds workspace-state.json), else a temporary folder.
    static var workFolder: URL {
        var dir = Bundle.main.executableURL?.resolvingSymlinksInPath().deletingLastPathComponent()
        while let d = dir, d.path != "/" {
            if FileManager.default.fileExists(atPath: d.appendingPathComponent("workspace-state.json").path) {
                return d.appendingPathComponent("lab-skeletons")
            }
            dir = d.deletingLastPathComponent()
        }
        return FileManager.default.temporaryDirectory.appendingPathComponent("diffusionlab-lab-skeletons")
    }

    static func build(_ variant: StudentPackage.Variant) throws -> (LabTestRun, seconds: Double) {
        let catalog = try repositoryCatalog()
        let package = try StudentPackage(labs: catalog.labs, catalog: catalog, library: repositoryRoot, variant: variant, name: "DiffusionLabAllLabs")
        let dir = workFolder.appendingPathComponent("package")
        try package.write(to: dir, force: true, library: repositoryRoot)
        let start = Date()
        let outcome = try LabRunner(package: dir, scratchPath: workFolder.appendingPathComponent("build")).run()
        let seconds = Date().timeIntervalSince(start)
        switch outcome {
        case let .buildFailed(errors, output):
            Issue.record("the generated \(variant) package does not compile:\n\((errors.isEmpty ? [String(output.suffix(3000))] : errors).joined(separator: "\n"))")
            throw LabCatalogError("build failed")
        case let .tested(run, _):
            return (run, seconds)
        }
    }

    @Test("every skeleton compiles and every lab test fails with the stub message")
    func skeletonsFail() throws {
        let (run, seconds) = try Self.build(.skeleton)
        print("lab skeletons: built and tested in \(String(format: "%.1f", seconds)) s; \(run.results.count) tests")
        #expect(run.completed, "the test process did not finish")
        let suites = Set(run.results.compactMap(\.suite))
        for lab in try repositoryCatalog().labs {
            #expect(suites.contains { $0.hasPrefix(lab.id + " ") }, "no tests of \(lab.id) ran")
        }
        for r in run.results {
            #expect(r.status == .failed, "\(r.suite ?? "") / \(r.name) must fail on the skeleton")
            #expect(r.problems.contains { $0.message.contains("练习未完成：") }, "\(r.name) must fail with the stub message, got \(r.problems.map(\.message))")
            #expect(r.problems.allSatisfy { !$0.hints.isEmpty }, "\(r.name): every failure carries its hint")
        }
        let report = run.report()
        #expect(report.contains("合计：通过 0 项，未通过 \(run.results.count) 项"))
    }
}
