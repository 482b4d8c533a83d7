// 所有实验共用：未完成练习抛出的错误。
//
// 生成的练习骨架里，每个要你实现的地方都是一行 `throw Unfinished("练习名")`。
// 练习函数都标了 `throws`，所以没写完的练习只会让用到它的测试失败，并显示“练习未完成：练习名”，
// 不会让整个测试进程崩溃。写出实现后删掉那一行即可（函数仍然可以保留 `throws`）。

/// 未完成的练习。
public struct Unfinished: Error, CustomStringConvertible {
    public let exercise: String
    public init(_ exercise: String) { self.exercise = exercise }
    public var description: String { "练习未完成：\(exercise)" }
}
