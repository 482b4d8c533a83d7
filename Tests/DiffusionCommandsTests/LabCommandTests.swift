import ArgumentParser
import Foundation
import TestSupport
import Testing
@testable import DiffusionCommands

@Suite("diffusion lab: list, init, check (arguments and failures)")
struct LabCommandTests {
    static func folder() -> URL { TemporaryFolder.root.appendingPathComponent("lab-cli-\(UUID().uuidString)") }

    @Test func arguments() throws {
        #expect(parseFailure(["lab", "list"]) == nil)
        #expect(parseFailure(["lab", "init", "L1", "/tmp/x", "--force", "--library", "/tmp/repo"]) == nil)
        #expect(parseFailure(["lab", "check", "--scratch-path", "/tmp/b", "--verbose"]) == nil)
        let missing = try #require(parseFailure(["lab", "init", "L1"]))
        #expect(missing.code != 0 && missing.message.contains("directory"))
        let cmd = try #require(try DiffusionCommand.parseAsRoot(["lab", "check"]) as? LabCheck)
        #expect(cmd.directory == ".")
    }

    @Test func listRuns() throws {
        let cmd = try #require(try DiffusionCommand.parseAsRoot(["lab", "list"]) as? LabList)
        try cmd.run()
    }

    @Test func initWritesAPackageAndRefusesToOverwrite() throws {
        let dir = Self.folder()
        defer { try? FileManager.default.removeItem(at: dir) }
        let cmd = try #require(try DiffusionCommand.parseAsRoot(["lab", "init", "l1", dir.path]) as? LabInit)
        try cmd.run()
        let skeleton = try String(contentsOf: dir.appendingPathComponent("Sources/Lab/ForwardProcess.swift"), encoding: .utf8)
        #expect(skeleton.contains("throw Unfinished(\"alphaBars\")"))
        #expect { try cmd.run() } throws: { "\($0)".contains("--force") }
        let forced = try #require(try DiffusionCommand.parseAsRoot(["lab", "init", "L1", dir.path, "--force"]) as? LabInit)
        try forced.run()
    }

    @Test func unknownLabAndBadLibrary() throws {
        let unknown = try #require(try DiffusionCommand.parseAsRoot(["lab", "init", "L99", Self.folder().path]) as? LabInit)
        #expect { try unknown.run() } throws: { "\($0)".contains("L99") && "\($0)".contains("L1") }
        let badLibrary = try #require(try DiffusionCommand.parseAsRoot(["lab", "list", "--library", "/nonexistent"]) as? LabList)
        #expect { try badLibrary.run() } throws: { "\($0)".contains("--library") }
    }

    @Test func checkNeedsAGeneratedPackage() throws {
        let cmd = try #require(try DiffusionCommand.parseAsRoot(["lab", "check", FileManager.default.temporaryDirectory.path]) as? LabCheck)
        #expect { try cmd.run() } throws: { "\($0)".contains("diffusion lab init") }
    }
}
