import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Ctrl-C for long loops: while installed, SIGINT only sets a flag (a lock-free atomic store, safe in a signal
/// handler); the loop checks it between steps, stops cleanly and saves its work.
enum Interrupt {
    static let flag = Atomic<Bool>(false)

    static var requested: Bool { flag.load(ordering: .relaxed) }

    /// Clears the flag and routes SIGINT to it; `restore()` puts the default back (a second Ctrl-C after that kills).
    static func install() {
        flag.store(false, ordering: .relaxed)
        signal(SIGINT) { _ in Interrupt.flag.store(true, ordering: .relaxed) }
    }

    static func restore() { signal(SIGINT, SIG_DFL) }

    /// The conventional exit status of a process stopped by SIGINT (128 + 2).
    static let exitStatus: Int32 = 130
}

/// Test hook: called after every training step with the step count (e.g. to raise SIGINT at a given step).
enum TrainHooks {
    static let afterStep = Mutex<(@Sendable (Int) -> Void)?>(nil)
}
