import ArgumentParser
import DiffusionServer
import Foundation
import TestSupport
import Testing
@testable import DiffusionCommands

@Suite("diffusion book: options and failures")
struct BookCommandTests {
    @Test func optionsParse() {
        #expect(parseFailure(["book", "build", "--source", "book", "--out", "out/site"]) == nil)
        #expect(parseFailure(["book", "serve", "--port", "0", "--host", "127.0.0.1"]) == nil)
        #expect(parseFailure(["book", "check", "--no-cache"]) == nil)
    }

    @Test func badServeOptions() throws {
        let f = try #require(parseFailure(["book", "serve", "--port", "70000"]))
        #expect(f.code != 0 && f.message.contains("--port"))
        #expect(parseFailure(["book", "frobnicate"]) != nil)
    }

    @Test func serveDefaultsToLoopback() throws {
        let cmd = try #require(try DiffusionCommand.parseAsRoot(["book", "serve"]) as? BookServe)
        #expect(cmd.host == "127.0.0.1")
    }

    @Test func buildOfAMissingBookFailsWithTheFileName() throws {
        let out = TemporaryFolder.root.appendingPathComponent("cli-\(UUID().uuidString)")
        let cmd = try #require(try DiffusionCommand.parseAsRoot(["book", "build", "--source", "/nonexistent-book", "--out", out.appendingPathComponent("site").path]) as? BookBuild)
        #expect(throws: ExitCode.failure) { try cmd.run() }
        #expect(!FileManager.default.fileExists(atPath: out.path))
    }

    @Test func serveWithoutASiteSaysToBuildFirst() throws {
        let cmd = try #require(try DiffusionCommand.parseAsRoot(["book", "serve", "--site", "/nonexistent-site"]) as? BookServe)
        #expect { try cmd.run() } throws: { "\($0)".contains("diffusion book build") }
    }

    @Test func serveModelsFolderIsChecked() throws {
        let missing = try #require(try DiffusionCommand.parseAsRoot(["book", "serve", "--models", "/nonexistent-models"]) as? BookServe)
        #expect { try missing.apiHandler() } throws: { "\($0)".contains("--models: '/nonexistent-models' is not a folder of checkpoints") }
        let off = try #require(try DiffusionCommand.parseAsRoot(["book", "serve", "--models", "none"]) as? BookServe)
        #expect(try off.apiHandler() == nil)
        let empty = TemporaryFolder.make("serve-models")
        let on = try #require(try DiffusionCommand.parseAsRoot(["book", "serve", "--models", empty.path]) as? BookServe)
        let api = try #require(try on.apiHandler())
        #expect(api.count == 0 && api.folder == empty.path)
        let listing = api.handler("GET", "/api/models", Data())
        #expect(listing.status == 200 && String(decoding: listing.body, as: UTF8.self) == "[]")
    }
}
