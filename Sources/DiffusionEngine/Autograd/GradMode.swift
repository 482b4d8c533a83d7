/// Whether operations record themselves for differentiation in the current task or thread.
public enum GradMode {
    @TaskLocal public static var isEnabled = true
}

/// Runs `body` without recording operations (inference, optimiser updates, metrics).
@discardableResult
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isEnabled.withValue(false, operation: body)
}
