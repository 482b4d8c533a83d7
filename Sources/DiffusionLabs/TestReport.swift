import Foundation

/// The outcome of one test function, read from Swift Testing's JSON event stream (ABI version 0, one JSON object
/// per line, as written by `swift test --event-stream-output-path … --event-stream-version 0`).
public struct LabTestResult: Sendable, Equatable {
    public enum Status: Sendable, Equatable {
        case passed, failed, skipped
        /// Started but never ended: the test process stopped (a crash such as an index out of range).
        case interrupted
        /// Never started (the process stopped first).
        case notRun
    }

    public struct Problem: Sendable, Equatable {
        /// The failure ("Caught error: 练习未完成：ddpmLoss", "Expectation failed: …").
        public var message: String
        /// Comments attached to the failure, other than hints.
        public var details: [String]
        /// Hints attached with the `.hint(…)` trait ("提示：…").
        public var hints: [String]
        /// The argument of a parameterised test case, if any.
        public var testCase: String?
    }

    public var id: String
    public var name: String
    public var suite: String?
    public var file: String
    public var line: Int
    public var status: Status
    public var problems: [Problem]
}

/// All results of one run.
public struct LabTestRun: Sendable {
    public var results: [LabTestResult]
    /// False when the stream has no end-of-run event (the test process crashed or was killed).
    public var completed: Bool

    public var passed: Int { results.filter { $0.status == .passed }.count }
    public var failed: Int { results.count - passed - results.filter { $0.status == .skipped }.count }
    public var allPassed: Bool { completed && !results.isEmpty && failed == 0 }

    static let hintPrefix = "提示："

    /// Parses the JSON lines of an event stream. Unknown records and fields are ignored.
    public init(eventStream text: String) {
        var tests: [String: LabTestResult] = [:]
        var suites: [String: String] = [:]
        var started = Set<String>(), ended: [String: String] = [:], skipped = Set<String>()
        var problems: [String: [LabTestResult.Problem]] = [:]
        var completed = false
        for line in text.split(separator: "\n") {
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let kind = object["kind"] as? String, let payload = object["payload"] as? [String: Any] else { continue }
            if kind == "test" {
                guard let id = payload["id"] as? String else { continue }
                let name = payload["displayName"] as? String ?? payload["name"] as? String ?? id
                if payload["kind"] as? String == "suite" { suites[id] = name; continue }
                let location = payload["sourceLocation"] as? [String: Any]
                let file = (location?["fileID"] as? String).map { String($0.split(separator: "/").last ?? "") } ?? ""
                tests[id] = LabTestResult(id: id, name: name, suite: nil, file: file, line: location?["line"] as? Int ?? 0,
                                          status: .notRun, problems: [])
                continue
            }
            guard kind == "event", let event = payload["kind"] as? String else { continue }
            let testID = payload["testID"] as? String
            let messages = (payload["messages"] as? [[String: Any]] ?? []).compactMap { m -> (String, String)? in
                guard let s = m["symbol"] as? String, let t = m["text"] as? String else { return nil }
                return (s, t)
            }
            switch event {
            case "testStarted": if let testID { started.insert(testID) }
            case "testEnded": if let testID { ended[testID] = messages.first?.0 ?? "" }
            case "testSkipped": if let testID { skipped.insert(testID) }
            case "runEnded": completed = true
            case "issueRecorded":
                guard let testID, let issue = payload["issue"] as? [String: Any], issue["isKnown"] as? Bool != true else { continue }
                let main = messages.first { $0.0 != "details" }?.1 ?? "问题"
                let details = messages.filter { $0.0 == "details" }.map(\.1)
                let testCase = (payload["_testCase"] as? [String: Any])?["displayName"] as? String
                problems[testID, default: []].append(.init(message: main, details: details.filter { !$0.hasPrefix(Self.hintPrefix) },
                                                           hints: details.filter { $0.hasPrefix(Self.hintPrefix) }, testCase: testCase))
            default: break
            }
        }
        var results: [LabTestResult] = []
        for (id, var r) in tests {
            r.suite = suites.filter { id.hasPrefix($0.key + "/") }.max { $0.key.count < $1.key.count }?.value
            r.problems = problems[id] ?? []
            if skipped.contains(id) { r.status = .skipped }
            else if let symbol = ended[id] { r.status = r.problems.isEmpty && symbol != "fail" ? .passed : .failed }
            else if started.contains(id) { r.status = .interrupted }
            else { r.status = .notRun }
            results.append(r)
        }
        self.results = results.sorted { ($0.suite ?? "", $0.file, $0.line) < ($1.suite ?? "", $1.file, $1.line) }
        self.completed = completed
    }

    /// The message in Chinese: the stub's "练习未完成：…" stands alone; Swift Testing's English prefixes are translated.
    static func translate(_ message: String) -> String {
        let caught = "Caught error: ", expectation = "Expectation failed: "
        if message.hasPrefix(caught) {
            let rest = message.dropFirst(caught.count)
            return rest.hasPrefix("练习未完成") ? String(rest) : "抛出了错误：" + rest
        }
        if message.hasPrefix(expectation) { return "检查未通过：" + message.dropFirst(expectation.count) }
        if message == "Issue recorded" { return "检查未通过" }
        return message
    }

    /// The report a learner sees, in Chinese: each test with ✔/✘, the reasons and hints of each failure, a summary.
    public func report(title: String? = nil, crashOutput: String? = nil) -> String {
        var out: [String] = []
        if let title { out.append(title); out.append("") }
        var lastSuite: String?? = .none
        for r in results {
            if lastSuite != .some(r.suite) {
                if let s = r.suite { out.append("【\(s)】") }
                lastSuite = .some(r.suite)
            }
            switch r.status {
            case .passed: out.append("  ✔ \(r.name)")
            case .skipped: out.append("  – \(r.name)（跳过）")
            case .notRun: out.append("  ✘ \(r.name)（没有运行：测试进程提前退出）")
            case .interrupted: out.append("  ✘ \(r.name)（运行中断：测试进程崩溃，多半是下标越界、形状不符或 fatalError）")
            case .failed:
                out.append("  ✘ \(r.name)")
                var seen = Set<String>(), hints: [String] = []
                var shown = 0
                for p in r.problems {
                    // A failed #expect with a Chinese comment reads best as the comment alone; the expression is for `swift test`.
                    let text = p.message.hasPrefix("Expectation failed: ") && !p.details.isEmpty
                        ? "检查未通过：" + p.details.joined(separator: "；")
                        : Self.translate(p.message) + (p.details.isEmpty ? "" : "（" + p.details.joined(separator: "；") + "）")
                    for h in p.hints where !hints.contains(h) { hints.append(h) }
                    guard seen.insert(text).inserted else { continue }
                    shown += 1
                    if shown <= 3 { out.append("      " + text.replacingOccurrences(of: "\n", with: "\n      ")) }
                }
                if shown > 3 { out.append("      ……另有 \(shown - 3) 条不同的失败信息") }
                for h in hints { out.append("      " + h) }
            }
        }
        if !completed {
            out.append("")
            out.append("测试进程没有正常结束（崩溃或被终止）。")
            if let crashOutput, !crashOutput.isEmpty { out.append("最后的输出：\n" + crashOutput) }
        }
        out.append("")
        let skippedCount = results.filter { $0.status == .skipped }.count
        out.append("合计：通过 \(passed) 项，未通过 \(failed) 项" + (skippedCount > 0 ? "，跳过 \(skippedCount) 项" : "") + "（共 \(results.count) 项）。"
            + (allPassed ? "全部通过，做得好！" : ""))
        return out.joined(separator: "\n") + "\n"
    }
}
