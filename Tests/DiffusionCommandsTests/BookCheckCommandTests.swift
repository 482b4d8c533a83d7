import ArgumentParser
import Foundation
import TestSupport
import Testing
@testable import DiffusionCommands

/// `diffusion book check` on the real book in book/ (with a private experiment cache): it must pass.
@Suite("diffusion book check: the real book")
struct BookCheckCommandTests {
    @Test func theRealBookChecksClean() throws {
        let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let cache = TemporaryFolder.make("book-check")
        defer { try? FileManager.default.removeItem(at: cache) }
        let cmd = try #require(try DiffusionCommand.parseAsRoot(
            ["book", "check", "--source", repo.appendingPathComponent("book").path, "--cache", cache.path]) as? BookCheck)
        #expect(throws: Never.self) { try cmd.run() }
    }
}
