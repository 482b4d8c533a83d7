import Foundation

/// One lab: `labs/<id>-<slug>/` with `lab.json`, the solution sources in `Sources/` and the graded tests in `Tests/`.
public struct LabInfo: Sendable, Codable, Equatable {
    /// "L1", "L3", …
    public var id: String
    public var title: String
    /// The book chapter the lab belongs to ("1", "3", …).
    public var chapter: String
    public var summary: String
    /// The folder name under labs/, e.g. "L1-forward-process" (filled in when loading).
    public var folder: String = ""
    /// Exercise names in source order (filled in when loading, from the markers).
    public var exercises: [String] = []

    enum CodingKeys: String, CodingKey { case id, title, chapter, summary }
}

/// Errors reading the labs folder.
public struct LabCatalogError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// The labs folder of a repository: every lab, and the support files shared by all of them
/// (`labs/Support/Sources` go into each learner's `Lab` module, `labs/Support/Tests` into its tests).
public struct LabCatalog: Sendable {
    public let folder: URL
    public let labs: [LabInfo]

    public static let supportFolder = "Support"

    /// Loads and checks every lab: metadata, marker syntax of sources, and no markers in tests.
    public init(folder: URL) throws {
        self.folder = folder
        let fm = FileManager.default
        guard fm.fileExists(atPath: folder.appendingPathComponent(Self.supportFolder).path) else {
            throw LabCatalogError("\(folder.path) is not a labs folder (no \(Self.supportFolder)/)")
        }
        var labs: [LabInfo] = []
        for name in try fm.contentsOfDirectory(atPath: folder.path).sorted() where name != Self.supportFolder && !name.hasPrefix(".") {
            let dir = folder.appendingPathComponent(name)
            let manifest = dir.appendingPathComponent("lab.json")
            guard fm.fileExists(atPath: manifest.path) else { continue }
            var info: LabInfo
            do { info = try JSONDecoder().decode(LabInfo.self, from: Data(contentsOf: manifest)) } catch {
                throw LabCatalogError("\(manifest.path): \(error)")
            }
            guard name.hasPrefix(info.id + "-") || name == info.id else {
                throw LabCatalogError("\(manifest.path): folder '\(name)' must start with the lab id '\(info.id)-'")
            }
            info.folder = name
            for url in try Self.swiftFiles(dir.appendingPathComponent("Tests")) {
                let tests = try LabSource(contentsOf: url, displayName: Self.relative(url, to: folder))
                if let r = tests.regions.first {
                    throw LabSourceError(file: tests.file, line: r.beginLine, message: "tests are copied verbatim to the learner; solution markers belong in Sources/")
                }
            }
            info.exercises = try Self.swiftFiles(dir.appendingPathComponent("Sources")).flatMap {
                try LabSource(contentsOf: $0, displayName: Self.relative($0, to: folder)).exerciseNames
            }
            guard !info.exercises.isEmpty else { throw LabCatalogError("\(name): no '// BEGIN SOLUTION' region in Sources/") }
            labs.append(info)
        }
        if let dup = Dictionary(grouping: labs, by: { $0.id.lowercased() }).first(where: { $0.value.count > 1 }) {
            throw LabCatalogError("two labs with id \(dup.key): \(dup.value.map(\.folder).joined(separator: ", "))")
        }
        self.labs = labs.sorted { Self.order($0.id) < Self.order($1.id) }
    }

    /// The lab with this id ("L3", "l3") or folder name ("L3-ddpm").
    public func lab(_ key: String) -> LabInfo? {
        labs.first { $0.id.caseInsensitiveCompare(key) == .orderedSame || $0.folder.caseInsensitiveCompare(key) == .orderedSame }
    }

    public func sources(of lab: LabInfo) throws -> [URL] { try Self.swiftFiles(folder.appendingPathComponent(lab.folder).appendingPathComponent("Sources")) }
    public func tests(of lab: LabInfo) throws -> [URL] { try Self.swiftFiles(folder.appendingPathComponent(lab.folder).appendingPathComponent("Tests")) }
    public func supportSources() throws -> [URL] { try Self.swiftFiles(folder.appendingPathComponent(Self.supportFolder).appendingPathComponent("Sources")) }
    public func supportTests() throws -> [URL] { try Self.swiftFiles(folder.appendingPathComponent(Self.supportFolder).appendingPathComponent("Tests")) }

    /// `.swift` files directly in `dir`, sorted by name (none if the folder is missing).
    static func swiftFiles(_ dir: URL) throws -> [URL] {
        guard FileManager.default.fileExists(atPath: dir.path) else { return [] }
        return try FileManager.default.contentsOfDirectory(atPath: dir.path).filter { $0.hasSuffix(".swift") }.sorted()
            .map { dir.appendingPathComponent($0) }
    }

    static func relative(_ url: URL, to base: URL) -> String {
        let (p, b) = (url.standardizedFileURL.path, base.standardizedFileURL.path)
        return p.hasPrefix(b + "/") ? "labs/" + p.dropFirst(b.count + 1) : p
    }

    /// "L10" after "L9": sort by the number in the id.
    static func order(_ id: String) -> (Int, String) { (Int(id.filter(\.isNumber)) ?? Int.max, id) }
}
