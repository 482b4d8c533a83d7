import Testing
@testable import DiffusionLabs

@Suite("Solution markers: parsing, skeletons, errors with file and line")
struct MarkerTests {
    static let sample = """
    public func f(_ x: Double) throws -> Double {
        // 说明
        // BEGIN SOLUTION 加倍
        let y = 2 * x
        return y
        // END SOLUTION
    }

    public func g() throws -> [Int] {
        // BEGIN SOLUTION g
        return [1, 2]
        // STUB
        // return []
        //
        // END SOLUTION
    }
    """

    @Test func regionsAndSkeleton() throws {
        let s = try LabSource(text: Self.sample, file: "F.swift")
        #expect(s.exerciseNames == ["加倍", "g"])
        #expect(s.regions[0].beginLine == 3 && s.regions[0].endLine == 6 && s.regions[0].indent == "    ")
        #expect(s.regions[1].stub == ["    return []", ""])
        let skeleton = s.skeleton()
        #expect(skeleton.contains("    throw Unfinished(\"加倍\")\n"))
        #expect(skeleton.contains("// TODO 练习「加倍」"))
        #expect(!skeleton.contains("2 * x") && !skeleton.contains("[1, 2]") && !skeleton.contains("SOLUTION"))
        #expect(skeleton.contains("    return []\n"), "the STUB section replaces the default stub")
        #expect(skeleton.contains("// 说明"), "instructions outside the region stay")
        // The skeleton has no markers left and parses again with no regions.
        #expect(try LabSource(text: skeleton, file: "F.swift").regions.isEmpty)
    }

    @Test func solutionDropsMarkersAndStubs() throws {
        let solution = try LabSource(text: Self.sample, file: "F.swift").solution()
        #expect(solution.contains("let y = 2 * x") && solution.contains("return [1, 2]"))
        #expect(!solution.contains("SOLUTION") && !solution.contains("STUB") && !solution.contains("return []"))
    }

    @Test func literalEscaping() throws {
        let s = try LabSource(text: "func f() throws {\n// BEGIN SOLUTION a\"b\\c\n// END SOLUTION\n}\n", file: "x")
        #expect(s.skeleton().contains(#"throw Unfinished("a\"b\\c")"#))
    }

    /// (source, line of the error, words the message must contain)
    static let bad: [(String, Int, [String])] = [
        ("a\n// BEGIN SOLUTION x\n// BEGIN SOLUTION y\n// END SOLUTION\n", 3, ["nested", "'x'", "line 2"]),
        ("a\n// END SOLUTION\n", 2, ["without a matching"]),
        ("a\nb\n  // BEGIN SOLUTION x\nc\n", 3, ["never closed", "x"]),
        ("// BEGIN SOLUTION\n// END SOLUTION\n", 1, ["needs an exercise name"]),
        ("// BEGIN SOLUTIONx\n// END SOLUTION\n", 1, ["needs an exercise name"]),
        ("// begin solution x\n", 1, ["malformed marker"]),
        ("// END SOLUTION now\n", 1, ["takes nothing"]),
        ("// STUB\n", 1, ["outside"]),
        ("// BEGIN SOLUTION x\n// STUB\n// STUB\n// END SOLUTION\n", 3, ["second"]),
        ("// BEGIN SOLUTION x\n// STUB\nreturn 1\n// END SOLUTION\n", 3, ["only comment lines"]),
        ("// BEGIN SOLUTION x\n// END SOLUTION\n// BEGIN SOLUTION x\n// END SOLUTION\n", 3, ["already defined at line 1"]),
    ]

    @Test("malformed markers are errors naming file and line", arguments: bad.indices)
    func errors(_ i: Int) {
        let (text, line, words) = Self.bad[i]
        do {
            _ = try LabSource(text: text, file: "labs/L9-x/Sources/X.swift")
            Issue.record("expected an error for case \(i)")
        } catch {
            #expect(error.file == "labs/L9-x/Sources/X.swift" && error.line == line, "case \(i): \(error)")
            #expect(error.description.hasPrefix("labs/L9-x/Sources/X.swift:\(line): "), "case \(i): \(error)")
            for w in words { #expect(error.message.contains(w), "case \(i): '\(error.message)' should mention \(w)") }
        }
    }

    @Test func ordinaryCommentsAreNotMarkers() throws {
        let s = try LabSource(text: "// BEGINNING SOLUTIONS is fine\n// the END\n// stubbed\nlet x = 1 // END SOLUTION in a trailing comment\n", file: "x")
        #expect(s.regions.isEmpty)
    }
}
