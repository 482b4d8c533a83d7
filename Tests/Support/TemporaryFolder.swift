import Foundation

/// Fresh folders for tests. All live under one folder per test process, removed when the process exits, so a
/// test run leaves nothing behind in the system temporary directory (folders of crashed runs are swept by the next).
public enum TemporaryFolder {
    static let prefix = "dl-tests-"

    /// `dl-tests-<pid>` in the system temporary directory.
    public static let root: URL = {
        let fm = FileManager.default
        sweepDeadProcesses()
        let url = fm.temporaryDirectory.appendingPathComponent("\(prefix)\(getpid())")
        try? fm.removeItem(at: url)
        try! fm.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: TemporaryFolder.root) }
        return url
    }()

    /// A new empty folder named `<name>-<uuid>` under `root`.
    public static func make(_ name: String) -> URL {
        let url = root.appendingPathComponent("\(name)-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Removes the folders of test processes that no longer exist (killed or crashed runs).
    static func sweepDeadProcesses() {
        let fm = FileManager.default
        let tmp = fm.temporaryDirectory
        for name in (try? fm.contentsOfDirectory(atPath: tmp.path)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH { try? fm.removeItem(at: tmp.appendingPathComponent(name)) }
        }
    }
}
