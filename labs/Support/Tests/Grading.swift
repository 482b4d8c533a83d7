// 所有实验共用的评分工具（请不要修改）。
//
// `.hint("…")` 给一个测试附上中文提示：测试失败时，提示会出现在 `swift test` 的输出里，
// `diffusion lab check` 也会把它列在失败原因下面。

import DiffusionEngine
import Foundation
import Testing

/// 测试失败时显示的提示。它也会把练习抛出的错误（如“练习未完成”）记成带提示的失败。
struct Hint: TestTrait, TestScoping {
    let text: String

    func provideScope(for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void) async throws {
        let text = text
        let addHint = IssueHandlingTrait.compactMapIssues { issue in
            var issue = issue
            issue.comments.append("提示：\(text)")
            return issue
        }
        try await addHint.provideScope(for: test, testCase: testCase) {
            do {
                try await function()
            } catch let error as ExpectationFailedError {
                throw error                                  // 已经记录过（来自 #require）
            } catch {
                Issue.record(error, sourceLocation: test.sourceLocation)
            }
        }
    }
}

extension Trait where Self == Hint {
    /// 失败时显示的中文提示。
    static func hint(_ text: String) -> Self { Hint(text: text) }
}

/// 两个形状相同的张量逐元素之差的最大绝对值。
func maxAbsDifference(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "形状不同：\(a.shape) 与 \(b.shape)")
    return zip(a.scalars, b.scalars).reduce(0.0) { max($0, abs(Double($1.0) - Double($1.1))) }
}

/// 均方根误差 √(mean (a − b)²)。
func rmsDifference(_ a: Tensor, _ b: Tensor) -> Double {
    precondition(a.shape == b.shape, "形状不同：\(a.shape) 与 \(b.shape)")
    let s = zip(a.scalars, b.scalars).reduce(0.0) { let d = Double($1.0) - Double($1.1); return $0 + d * d }
    return (s / Double(max(a.count, 1))).squareRoot()
}

/// 相对误差 |a − b| / max(|b|, 1e-300)。
func relativeError(_ a: Double, _ b: Double) -> Double { abs(a - b) / max(abs(b), 1e-300) }

/// 最小二乘拟合 log y = k·log x + c 的斜率 k（用来量收敛阶）。
func logLogSlope(_ xs: [Double], _ ys: [Double]) -> Double {
    let lx = xs.map { Foundation.log($0) }, ly = ys.map { Foundation.log($0) }
    let mx = lx.reduce(0, +) / Double(lx.count), my = ly.reduce(0, +) / Double(ly.count)
    var num = 0.0, den = 0.0
    for (a, b) in zip(lx, ly) { num += (a - mx) * (b - my); den += (a - mx) * (a - mx) }
    return num / den
}
