// Swift drops the message of `precondition` in optimised builds, and the engine is always optimised.
// These module-level versions shadow the standard library's for the engine and every module that imports
// it, so a user error (mismatched shapes, an index out of range) always stops with a message naming it.

/// Stops with `message` when `condition` is false, in every build configuration.
@_transparent
public func precondition(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String = String(),
                         file: StaticString = #fileID, line: UInt = #line) {
    if !condition() { fatalError(message(), file: file, line: line) }
}

/// Stops with `message`, in every build configuration.
@_transparent
public func preconditionFailure(_ message: @autoclosure () -> String = String(), file: StaticString = #fileID, line: UInt = #line) -> Never {
    fatalError(message(), file: file, line: line)
}
