import Testing
@testable import DiffusionLabs

@Suite("Reports: Swift Testing's JSON event stream → results in Chinese")
struct ReportTests {
    /// Captured from `swift test --event-stream-output-path … --event-stream-version 0` on a small package with a
    /// passing test, a failed expectation with a hint, an unfinished stub and a parameterised test (2 cases).
    static let stream = #"""
{"kind":"test","payload":{"displayName":"实验 A","id":"SolTests.ATests","kind":"suite","name":"ATests","sourceLocation":{"column":2,"fileID":"SolTests/ATests.swift","line":18}},"version":0}
{"kind":"test","payload":{"displayName":"f 加倍","id":"SolTests.ATests/fDoubles()/ATests.swift:19:4","isParameterized":false,"kind":"function","name":"fDoubles()","sourceLocation":{"column":4,"fileID":"SolTests/ATests.swift","line":19}},"version":0}
{"kind":"test","payload":{"displayName":"g 加一","id":"SolTests.ATests/gAdds()/ATests.swift:22:4","isParameterized":false,"kind":"function","name":"gAdds()","sourceLocation":{"column":4,"fileID":"SolTests/ATests.swift","line":22}},"version":0}
{"kind":"test","payload":{"displayName":"g ok","id":"SolTests.ATests/gOK()/ATests.swift:25:4","isParameterized":false,"kind":"function","name":"gOK()","sourceLocation":{"column":4,"fileID":"SolTests/ATests.swift","line":25}},"version":0}
{"kind":"test","payload":{"displayName":"参数","id":"SolTests.ATests/p(_:)/ATests.swift:26:4","isParameterized":true,"kind":"function","name":"p(_:)","sourceLocation":{"column":4,"fileID":"SolTests/ATests.swift","line":26}},"version":0}
{"kind":"event","payload":{"kind":"testStarted","messages":[{"symbol":"default","text":"Suite \"实验 A\" started."}],"testID":"SolTests.ATests"},"version":0}
{"kind":"event","payload":{"kind":"testStarted","messages":[{"symbol":"default","text":"Test \"参数\" started."}],"testID":"SolTests.ATests/p(_:)/ATests.swift:26:4"},"version":0}
{"kind":"event","payload":{"kind":"testStarted","messages":[{"symbol":"default","text":"Test \"g 加一\" started."}],"testID":"SolTests.ATests/gAdds()/ATests.swift:22:4"},"version":0}
{"kind":"event","payload":{"kind":"testStarted","messages":[{"symbol":"default","text":"Test \"f 加倍\" started."}],"testID":"SolTests.ATests/fDoubles()/ATests.swift:19:4"},"version":0}
{"kind":"event","payload":{"kind":"testStarted","messages":[{"symbol":"default","text":"Test \"g ok\" started."}],"testID":"SolTests.ATests/gOK()/ATests.swift:25:4"},"version":0}
{"kind":"event","payload":{"_comments":["提示：参数化"],"_testCase":{"displayName":"1.0","id":"Parameterized test case ID: argumentIDs: [Testing.Test.Case.Argument.ID(bytes: [49])], discriminator: 0, isStable: true"},"issue":{"_error":{"code":1,"description":"练习未完成：f","domain":"Sol.Unfinished"},"isKnown":false,"sourceLocation":{"column":4,"fileID":"SolTests/ATests.swift","line":26}},"kind":"issueRecorded","messages":[{"symbol":"fail","text":"Caught error: 练习未完成：f"},{"symbol":"details","text":"提示：参数化"}],"testID":"SolTests.ATests/p(_:)/ATests.swift:26:4"},"version":0}
{"kind":"event","payload":{"_comments":["提示：参数化"],"_testCase":{"displayName":"2.0","id":"Parameterized test case ID: argumentIDs: [Testing.Test.Case.Argument.ID(bytes: [50])], discriminator: 0, isStable: true"},"issue":{"_error":{"code":1,"description":"练习未完成：f","domain":"Sol.Unfinished"},"isKnown":false,"sourceLocation":{"column":4,"fileID":"SolTests/ATests.swift","line":26}},"kind":"issueRecorded","messages":[{"symbol":"fail","text":"Caught error: 练习未完成：f"},{"symbol":"details","text":"提示：参数化"}],"testID":"SolTests.ATests/p(_:)/ATests.swift:26:4"},"version":0}
{"kind":"event","payload":{"_comments":["g(2) 的值","提示：g(x) = x + 1"],"issue":{"isKnown":false,"sourceLocation":{"column":5,"fileID":"SolTests/ATests.swift","line":23}},"kind":"issueRecorded","messages":[{"symbol":"fail","text":"Expectation failed: try g(2) == 4"},{"symbol":"details","text":"g(2) 的值"},{"symbol":"details","text":"提示：g(x) = x + 1"}],"testID":"SolTests.ATests/gAdds()/ATests.swift:22:4"},"version":0}
{"kind":"event","payload":{"_comments":["提示：f(x) 应当等于 2x"],"issue":{"_error":{"code":1,"description":"练习未完成：f","domain":"Sol.Unfinished"},"isKnown":false,"sourceLocation":{"column":4,"fileID":"SolTests/ATests.swift","line":19}},"kind":"issueRecorded","messages":[{"symbol":"fail","text":"Caught error: 练习未完成：f"},{"symbol":"details","text":"提示：f(x) 应当等于 2x"}],"testID":"SolTests.ATests/fDoubles()/ATests.swift:19:4"},"version":0}
{"kind":"event","payload":{"kind":"testEnded","messages":[{"symbol":"fail","text":"Test \"g 加一\" failed after 0.013 seconds with 1 issue."}],"testID":"SolTests.ATests/gAdds()/ATests.swift:22:4"},"version":0}
{"kind":"event","payload":{"kind":"testEnded","messages":[{"symbol":"fail","text":"Test \"f 加倍\" failed after 0.014 seconds with 1 issue."}],"testID":"SolTests.ATests/fDoubles()/ATests.swift:19:4"},"version":0}
{"kind":"event","payload":{"kind":"testEnded","messages":[{"symbol":"pass","text":"Test \"g ok\" passed after 0.014 seconds."}],"testID":"SolTests.ATests/gOK()/ATests.swift:25:4"},"version":0}
{"kind":"event","payload":{"kind":"testEnded","messages":[{"symbol":"fail","text":"Test \"参数\" with 2 test cases failed after 0.001 seconds with 2 issues."}],"testID":"SolTests.ATests/p(_:)/ATests.swift:26:4"},"version":0}
{"kind":"event","payload":{"kind":"testEnded","messages":[{"symbol":"fail","text":"Suite \"实验 A\" failed after 0.022 seconds with 4 issues."}],"testID":"SolTests.ATests"},"version":0}
{"kind":"event","payload":{"kind":"runEnded","messages":[{"symbol":"fail","text":"Test run with 4 tests in 1 suite failed after 0.022 seconds with 4 issues."}]},"version":0}
"""#

    @Test func parsesStatusesIssuesAndHints() throws {
        let run = LabTestRun(eventStream: Self.stream)
        #expect(run.completed)
        #expect(run.results.map(\.name) == ["f 加倍", "g 加一", "g ok", "参数"], "sorted by source line")
        #expect(run.results.map(\.status) == [.failed, .failed, .passed, .failed])
        #expect(run.results.allSatisfy { $0.suite == "实验 A" })
        #expect(run.passed == 1 && run.failed == 3 && !run.allPassed)
        let stub = run.results[0].problems
        #expect(stub.count == 1 && stub[0].message == "Caught error: 练习未完成：f" && stub[0].hints == ["提示：f(x) 应当等于 2x"])
        let expectation = run.results[1].problems[0]
        #expect(expectation.details == ["g(2) 的值"] && expectation.hints == ["提示：g(x) = x + 1"])
        #expect(run.results[3].problems.map(\.testCase) == ["1.0", "2.0"])
    }

    @Test func reportInChinese() {
        let text = LabTestRun(eventStream: Self.stream).report(title: "实验 X")
        #expect(text.hasPrefix("实验 X\n"))
        #expect(text.contains("【实验 A】"))
        #expect(text.contains("  ✔ g ok\n"))
        #expect(text.contains("  ✘ f 加倍\n      练习未完成：f\n      提示：f(x) 应当等于 2x\n"))
        #expect(text.contains("      检查未通过：g(2) 的值\n      提示：g(x) = x + 1\n"))
        // Two parameterised cases with the same failure are reported once, with one hint.
        #expect(text.components(separatedBy: "练习未完成：f").count - 1 == 2)
        #expect(text.components(separatedBy: "提示：参数化").count - 1 == 1)
        #expect(text.hasSuffix("合计：通过 1 项，未通过 3 项（共 4 项）。\n"))
    }

    @Test func crashLeavesTestsInterruptedOrNotRun() {
        // Cut the stream after the tests started: no testEnded, no runEnded.
        let cut = Self.stream.components(separatedBy: "\n").prefix(8).joined(separator: "\n")
        let run = LabTestRun(eventStream: cut)
        #expect(!run.completed && !run.allPassed)
        #expect(Set(run.results.map(\.status)) == [.interrupted, .notRun])
        #expect(run.failed == 4)
        let text = run.report(crashOutput: "Fatal error: Index out of range")
        #expect(text.contains("运行中断") && text.contains("没有运行") && text.contains("Fatal error: Index out of range"))
    }

    @Test func allPassedAndEmpty() {
        let pass = Self.stream.components(separatedBy: "\n").filter { !$0.contains("issueRecorded") && !$0.contains("\"fail\"") }.joined(separator: "\n")
            + "\n" + #"{"kind":"event","payload":{"kind":"runEnded","messages":[]},"version":0}"#
        let run = LabTestRun(eventStream: pass)
        #expect(run.results.count == 4)
        #expect(run.results.filter { $0.status == .interrupted }.count == 3, "tests without testEnded are not passed")
        #expect(run.passed == 1 && !run.allPassed)
        #expect(!LabTestRun(eventStream: "").allPassed, "no tests is not a pass")
        #expect(!LabTestRun(eventStream: "not json\n{}\n").completed)
    }

    @Test func translation() {
        #expect(LabTestRun.translate("Caught error: 练习未完成：ddim") == "练习未完成：ddim")
        #expect(LabTestRun.translate("Caught error: boom") == "抛出了错误：boom")
        #expect(LabTestRun.translate("Expectation failed: a == b") == "检查未通过：a == b")
    }

    @Test func compilerErrorsWithContext() {
        let output = """
        [3/9] Compiling Lab DDPM.swift
        /p/Sources/Lab/DDPM.swift:12:5: error: cannot find 'foo' in scope
        10 |
        11 |     func f() {
        12 |     foo()
           |     `- error: cannot find 'foo' in scope
        [4/9] Compiling Lab Other.swift
        /p/Sources/Lab/DDPM.swift:12:5: error: cannot find 'foo' in scope
        """
        let errors = LabRunner.compilerErrors(output)
        #expect(errors.first == "/p/Sources/Lab/DDPM.swift:12:5: error: cannot find 'foo' in scope")
        #expect(errors.count == 5, "the error, its four excerpt lines, and no duplicate: \(errors)")
    }
}
