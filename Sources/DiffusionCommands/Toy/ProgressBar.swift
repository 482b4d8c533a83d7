import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Training progress on standard error: step, smoothed loss, rate (it/s) and ETA. On a terminal one line is redrawn
/// in place (at most 10 times a second); otherwise a line is printed every `total/10` steps and at least every 30 s.
final class ProgressBar {
    enum Mode: String, CaseIterable { case auto, bar, lines, none }

    let total: Int
    let inPlace: Bool
    let enabled: Bool
    let write: (String) -> Void
    let start: Date
    let firstStep: Int
    var smoothed: Double?
    var lastDraw = Date.distantPast
    var lastLineStep = 0

    init(total: Int, startingAt first: Int = 0, mode: Mode, write: @escaping (String) -> Void = { FileHandle.standardError.write(Data($0.utf8)) }) {
        self.total = total
        firstStep = first
        lastLineStep = first
        enabled = mode != .none
        inPlace = mode == .bar || (mode == .auto && isatty(STDERR_FILENO) != 0)
        self.write = write
        start = Date()
        lastDraw = inPlace ? .distantPast : start
    }

    /// The line for step `step` (1-based count of steps done).
    func line(step: Int, loss: Double, now: Date = Date()) -> String {
        let elapsed = now.timeIntervalSince(start)
        let done = step - firstStep
        let rate = elapsed > 0 ? Double(done) / elapsed : 0
        let eta = rate > 0 ? Double(total - step) / rate : 0
        let percent = 100 * Double(step) / Double(total)
        let width = 24, filled = Int(Double(width) * Double(step) / Double(total))
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        return String(format: "step %d/%d %@ %3.0f%%  loss %.4f  %.1f it/s  ETA %@", step, total, bar, percent, loss, rate, Self.clock(eta))
    }

    static func clock(_ seconds: Double) -> String {
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    func update(step: Int, loss: Double) {
        guard enabled else { return }
        smoothed = smoothed.map { 0.95 * $0 + 0.05 * loss } ?? loss
        let now = Date()
        if inPlace {
            guard step == total || now.timeIntervalSince(lastDraw) >= 0.1 else { return }
            lastDraw = now
            write("\r\u{1B}[2K" + line(step: step, loss: smoothed!, now: now))
        } else {
            let every = Swift.max(1, total / 10)
            guard step == total || step - lastLineStep >= every || now.timeIntervalSince(lastDraw) >= 30 else { return }
            lastDraw = now
            lastLineStep = step
            write(line(step: step, loss: smoothed!, now: now) + "\n")
        }
    }

    /// Ends an in-place bar with a newline.
    func finish() {
        if enabled && inPlace { write("\n") }
    }
}
