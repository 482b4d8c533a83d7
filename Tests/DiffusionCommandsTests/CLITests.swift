import ArgumentParser
import Testing
@testable import DiffusionCommands

/// Parses like the executable does and returns (exit code, message) for a user error.
func parseFailure(_ args: [String]) -> (code: Int32, message: String)? {
    do {
        _ = try DiffusionCommand.parseAsRoot(args)
        return nil
    } catch {
        return (DiffusionCommand.exitCode(for: error).rawValue, DiffusionCommand.message(for: error))
    }
}

@Suite("Command line: bad input gives a clear message and a non-zero exit")
struct CLITests {
    @Test func unknownCommand() throws {
        let f = try #require(parseFailure(["frobnicate"]))
        #expect(f.code != 0)
        #expect(f.message.contains("frobnicate"))
    }

    @Test func badFlagValues() throws {
        for (args, needle) in [
            (["demo", "--steps", "abc"], "steps"),
            (["demo", "--steps", "0"], "--steps"),
            (["demo", "--lr", "-1"], "--lr"),
            (["demo", "--threads", "0"], "--threads"),
            (["demo", "--bogus"], "bogus"),
            (["bench", "engine", "--repeats", "0"], "--repeats"),
        ] {
            let f = try #require(parseFailure(args), "\(args) should be rejected")
            #expect(f.code != 0, "\(args)")
            #expect(f.message.contains(needle), "message for \(args) should name \(needle): \(f.message)")
        }
    }

    @Test func goodInputParses() {
        #expect(parseFailure(["demo", "--steps", "10", "--threads", "2"]) == nil)
        #expect(parseFailure(["doctor"]) == nil)
    }
}
