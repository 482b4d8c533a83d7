import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// A learner's Swift package for one or more labs, as relative path → file contents: the skeleton (or, for checks,
/// the reference solution) in `Sources/Lab`, the graded tests in `Tests/LabTests`, a README in Chinese, and a
/// `Package.swift` that depends on the DiffusionLab library by a local path.
public struct StudentPackage: Sendable {
    public enum Variant: Sendable { case skeleton, solution }

    /// What `diffusion lab check` needs to know about a generated package.
    public struct Manifest: Codable, Sendable, Equatable {
        public var labs: [String]
        public var library: String
        public var version: Int = 1
    }

    public static let manifestName = ".diffusion-lab.json"
    public static let moduleName = "Lab"
    public static let testModuleName = "LabTests"
    /// Top-level entries the generator owns; `--force` replaces exactly these.
    public static let generatedEntries = ["Package.swift", "README.md", ".gitignore", manifestName, "Sources", "Tests"]

    public let name: String
    public let files: [String: String]

    public init(labs: [LabInfo], catalog: LabCatalog, library: URL, variant: Variant = .skeleton, name: String? = nil) throws {
        precondition(!labs.isEmpty, "a package needs at least one lab")
        let packageName = name ?? (labs.count == 1 ? labs[0].folder : "DiffusionLab-labs")
        var files: [String: String] = [:]
        func add(_ path: String, _ text: String) throws {
            guard files[path] == nil else { throw LabCatalogError("two labs provide the file \(path); file names must be unique across labs") }
            files[path] = text
        }
        let src = "Sources/\(Self.moduleName)/", tests = "Tests/\(Self.testModuleName)/"
        for url in try catalog.supportSources() { try add(src + url.lastPathComponent, try String(contentsOf: url, encoding: .utf8)) }
        for url in try catalog.supportTests() { try add(tests + url.lastPathComponent, try String(contentsOf: url, encoding: .utf8)) }
        for lab in labs {
            for url in try catalog.sources(of: lab) {
                let source = try LabSource(contentsOf: url, displayName: LabCatalog.relative(url, to: catalog.folder))
                try add(src + url.lastPathComponent, variant == .skeleton ? source.skeleton() : source.solution())
            }
            for url in try catalog.tests(of: lab) { try add(tests + url.lastPathComponent, try String(contentsOf: url, encoding: .utf8)) }
        }
        let libraryPath = library.standardizedFileURL.path
        try add("Package.swift", Self.packageSwift(name: packageName, labs: labs, library: libraryPath))
        try add("README.md", LabReadme.text(labs: labs, library: libraryPath))
        try add(".gitignore", ".build/\n.swiftpm/\n")
        let manifest = Manifest(labs: labs.map(\.id), library: libraryPath)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        try add(Self.manifestName, String(decoding: try encoder.encode(manifest), as: UTF8.self) + "\n")
        self.name = packageName
        self.files = files
    }

    /// The package identity SwiftPM gives a path dependency: its last path component, lower-cased.
    static func identity(ofPath path: String) -> String { URL(fileURLWithPath: path).lastPathComponent.lowercased() }

    static func packageSwift(name: String, labs: [LabInfo], library: String) -> String {
        let id = identity(ofPath: library)
        let what = labs.map { "\($0.id)「\($0.title)」" }.joined(separator: "、")
        return """
        // swift-tools-version: 6.1
        // 由 `diffusion lab init` 生成的实验包：\(what)。
        // 你的代码写在 Sources/\(moduleName)/ 里；Tests/\(testModuleName)/ 是评分用的测试，请不要修改。
        import PackageDescription

        let package = Package(
            name: \(LabSource.swiftLiteral(name)),
            platforms: [.macOS(.v15)],
            dependencies: [
                // 本书的库 DiffusionLab，按本机路径引用。仓库移动后请改这一行（或重新运行 diffusion lab init --library …）。
                .package(path: \(LabSource.swiftLiteral(library))),
            ],
            targets: [
                .target(name: "\(moduleName)", dependencies: [.product(name: "DiffusionLab", package: \(LabSource.swiftLiteral(id)))], path: "Sources/\(moduleName)"),
                .testTarget(name: "\(testModuleName)", dependencies: ["\(moduleName)", .product(name: "DiffusionLab", package: \(LabSource.swiftLiteral(id)))], path: "Tests/\(testModuleName)"),
            ]
        )

        """
    }

    /// Reads the manifest of a generated package.
    public static func manifest(in dir: URL) throws -> Manifest {
        let url = dir.appendingPathComponent(manifestName)
        guard let data = try? Data(contentsOf: url) else {
            throw LabCatalogError("\(dir.path) 不是由 diffusion lab init 生成的实验包（找不到 \(manifestName)）。")
        }
        return try JSONDecoder().decode(Manifest.self, from: data)
    }

    /// Writes the package into `dir`. An empty or missing folder is filled by renaming a finished staging folder into
    /// place; a non-empty one is refused unless `force`, which replaces only the generated entries (Sources, Tests,
    /// Package.swift, …) and keeps everything else, such as `.build`. Refuses to write into the library repository.
    public func write(to dir: URL, force: Bool = false, library: URL? = nil) throws {
        let fm = FileManager.default
        let target = dir.standardizedFileURL
        if let library {
            let (t, l) = (target.resolvingSymlinksInPath().path, library.standardizedFileURL.resolvingSymlinksInPath().path)
            if t == l || l.hasPrefix(t + "/") || t.hasPrefix(l + "/labs") || t.hasPrefix(l + "/Sources") {
                throw LabCatalogError("不能把实验包写进 DiffusionLab 仓库本身（\(target.path)）；请换一个文件夹，例如 ~/labs/\(name)。")
            }
        }
        var isDir: ObjCBool = false
        let exists = fm.fileExists(atPath: target.path, isDirectory: &isDir)
        if exists && !isDir.boolValue { throw LabCatalogError("\(target.path) 已存在且不是文件夹。") }
        let contents = exists ? try fm.contentsOfDirectory(atPath: target.path) : []
        if !contents.isEmpty && !force {
            throw LabCatalogError("目标文件夹 \(target.path) 不是空的（有 \(contents.count) 项）。换一个文件夹，或加 --force 覆盖生成的文件（其他文件如 .build 会保留）。")
        }
        let parent = target.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let staging = parent.appendingPathComponent(".\(target.lastPathComponent).lab-staging-\(UUID().uuidString.prefix(8))")
        defer { try? fm.removeItem(at: staging) }
        for (path, text) in files {
            let url = staging.appendingPathComponent(path)
            try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url, options: .atomic)
        }
        if contents.isEmpty {
            if exists { try fm.removeItem(at: target) }
            try fm.moveItem(at: staging, to: target)
            return
        }
        for entry in Self.generatedEntries {
            let new = staging.appendingPathComponent(entry), old = target.appendingPathComponent(entry)
            guard fm.fileExists(atPath: new.path) else { continue }
            var oldIsDirectory: ObjCBool = false
            if fm.fileExists(atPath: old.path, isDirectory: &oldIsDirectory) {
                if oldIsDirectory.boolValue {
                    try fm.removeItem(at: old)
                } else {
                    // rename(2) replaces a file atomically.
                    guard rename(new.path, old.path) == 0 else { throw LabCatalogError("无法替换 \(old.path)（errno \(errno)）") }
                    continue
                }
            }
            try fm.moveItem(at: new, to: old)
        }
    }
}
