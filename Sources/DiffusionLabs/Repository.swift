import Foundation

/// Finds the DiffusionLab repository: the folder with `Package.swift` and `labs/`, which a learner's package depends
/// on by path and whose labs it copies.
public enum LabRepository {
    /// Where this file was compiled from: the repository of this build (recorded at build time).
    static let buildTimeRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent()

    /// True if `url` holds `Package.swift` and `labs/Support`.
    public static func isRepository(_ url: URL) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: url.appendingPathComponent("Package.swift").path)
            && fm.fileExists(atPath: url.appendingPathComponent("labs").appendingPathComponent(LabCatalog.supportFolder).path)
    }

    /// The repository: `explicit` if given (it must be one), else the build-time location, else the first
    /// repository found walking up from the current directory, then from the executable.
    public static func locate(explicit: String? = nil,
                              currentDirectory: URL = URL(fileURLWithPath: FileManager.default.currentDirectoryPath),
                              executable: URL? = Bundle.main.executableURL) throws -> URL {
        if let explicit {
            let url = URL(fileURLWithPath: explicit).standardizedFileURL
            guard isRepository(url) else {
                throw LabCatalogError("--library \(explicit)：这里不是 DiffusionLab 仓库（需要其中有 Package.swift 和 labs/\(LabCatalog.supportFolder)/）。")
            }
            return url
        }
        var candidates = [buildTimeRoot]
        candidates += ancestors(currentDirectory)
        if let executable { candidates += ancestors(executable.resolvingSymlinksInPath().deletingLastPathComponent()) }
        for c in candidates {
            if isRepository(c) { return c.standardizedFileURL }
        }
        throw LabCatalogError("找不到 DiffusionLab 仓库（含有 Package.swift 与 labs/ 的文件夹）。查找过：编译时的位置 \(buildTimeRoot.path)、"
            + "当前目录及其上级、程序所在目录及其上级。请用 --library <仓库路径> 指定。")
    }

    static func ancestors(_ url: URL) -> [URL] {
        var out: [URL] = []
        var u = url.standardizedFileURL
        while true {
            out.append(u)
            let parent = u.deletingLastPathComponent()
            if parent.path == u.path || out.count > 64 { break }
            u = parent
        }
        return out
    }
}
