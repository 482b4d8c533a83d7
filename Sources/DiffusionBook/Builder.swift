import Foundation

/// What a build produced.
public struct BuildReport: Sendable {
    public var pages: [String] = []
    public var files = 0
    public var bytes = 0
    public var figures = 0
    public var exercises = 0
    public var equations = 0
    public var citations = 0
    public var experimentsRun = 0
}

/// Builds the static site from the book's Markdown sources.
///
/// Everything is rendered in memory first; the site is written to a temporary folder next to the output and
/// renamed into place only when the whole build succeeded, so a failed build leaves the old site untouched.
public struct BookBuilder {
    public var source: URL
    public var output: URL
    /// Experiment results are cached here (never inside the site). nil disables the cache.
    public var cache: URL?
    public var katex: URL
    public var experiments: [BookExperiment]
    public var libraryVersion: String
    public var log: @Sendable (String) -> Void

    public static let defaultKatex = URL(fileURLWithPath: "/usr/share/javascript/katex")

    public init(source: URL, output: URL, cache: URL? = nil, katex: URL = BookBuilder.defaultKatex,
                experiments: [BookExperiment] = BookExperiments.all, libraryVersion: String = BookExperiments.libraryVersion,
                log: @escaping @Sendable (String) -> Void = { print($0) }) {
        self.source = source; self.output = output; self.cache = cache; self.katex = katex
        self.experiments = experiments; self.libraryVersion = libraryVersion; self.log = log
    }

    /// Renders and writes the site; throws `BookBuildError` (with file and line) on any problem in the sources.
    @discardableResult
    public func build() throws -> BuildReport {
        let (files, report) = try render()
        try SiteWriter.write(files, to: output)
        return report
    }

    /// Renders the whole site in memory: relative path → bytes.
    public func render() throws -> ([String: [UInt8]], BuildReport) {
        let fm = FileManager.default
        var report = BuildReport()
        // KaTeX first: without it no formula would render.
        let katexFiles = ["katex.min.js", "katex.min.css", "fonts"]
        for f in katexFiles where !fm.fileExists(atPath: katex.appendingPathComponent(f).path) {
            throw BookBuildError([BookDiagnostic(file: katex.appendingPathComponent(f).path, line: 0,
                "KaTeX is missing (needed to render formulas); install it with: apt-get install libjs-katex")])
        }
        let manifestURL = source.appendingPathComponent("book.json")
        guard let manifestData = fm.contents(atPath: manifestURL.path) else {
            throw BookBuildError([BookDiagnostic(file: manifestURL.path, line: 0, "no book.json in the book folder '\(source.path)'")])
        }
        let manifest: BookManifest
        do { manifest = try JSONDecoder().decode(BookManifest.self, from: manifestData) } catch {
            throw BookBuildError([BookDiagnostic(file: manifestURL.path, line: 0, "cannot read book.json: \(error)")])
        }
        let displayRoot = source.lastPathComponent
        func shown(_ file: String) -> String { "\(displayRoot)/\(file)" }

        // Bibliography.
        var bibliography = Bibliography()
        let bibFile = manifest.bibliography ?? "references.bib"
        if let data = fm.contents(atPath: source.appendingPathComponent(bibFile).path) {
            bibliography = try Bibliography(bibtex: String(decoding: data, as: UTF8.self), file: shown(bibFile))
        } else if manifest.bibliography != nil {
            throw BookBuildError([BookDiagnostic(file: shown(bibFile), line: 0, "the bibliography named in book.json does not exist")])
        }

        // Pages in reading order.
        struct PageSpec { let file: String; let output: String; let number: String?; let title: String }
        var specs = [PageSpec(file: manifest.front ?? "index.md", output: "index.html", number: nil, title: manifest.title)]
        var diagnostics: [BookDiagnostic] = []
        for e in manifest.chapters + (manifest.appendices ?? []) {
            if let f = e.file { specs.append(PageSpec(file: f, output: BookManifest.outputName(e.number), number: e.number, title: e.title)) }
        }
        var pre = Preprocessor(experiments: Dictionary(uniqueKeysWithValues: experiments.map { ($0.name, $0) }), labs: manifest.labs ?? [:])
        var pages: [PreparedPage] = []
        for spec in specs {
            guard let data = fm.contents(atPath: source.appendingPathComponent(spec.file).path) else {
                diagnostics.append(BookDiagnostic(file: shown(spec.file), line: 0, "file listed in book.json does not exist")); continue
            }
            guard let text = String(data: data, encoding: .utf8) else {
                diagnostics.append(BookDiagnostic(file: shown(spec.file), line: 0, "not valid UTF-8")); continue
            }
            pages.append(pre.prepare(text: text, source: shown(spec.file), output: spec.output, chapter: spec.number))
        }
        diagnostics += pre.diagnostics
        if !diagnostics.isEmpty { throw BookBuildError(diagnostics) }

        // Experiments (cached).
        let registry = Dictionary(uniqueKeysWithValues: experiments.map { ($0.name, $0) })
        let requests = pre.requests.map { r in ExperimentRunner.Request(name: r.name, parameters: try! registry[r.name]!.parameters(r.parameters)) }
        let runner = ExperimentRunner(registry: registry, cacheDirectory: cache, libraryVersion: libraryVersion, log: log)
        var results: [ExperimentRunner.Request: ExperimentResult]
        do { results = try runner.run(requests) } catch let failure as ExperimentFailure {
            // Name the first place the failing experiment is used.
            let first = pre.requests.first { r in r.name == failure.request.name && (try? registry[r.name]!.parameters(r.parameters)) == failure.request.parameters }
            throw BookBuildError([BookDiagnostic(file: first?.source ?? "book", line: first?.line ?? 0, "experiment '\(failure.request.name)' failed: \(failure.message)")])
        }
        report.experimentsRun = Set(requests).count

        // Second pass: HTML for every page.
        var renderer = PageRenderer(labels: pre.labels, bibliography: bibliography, results: results, registry: registry, labs: manifest.labs ?? [:])
        var rendered: [RenderedPage] = []
        for page in pages { rendered.append(renderer.render(page)) }
        if !renderer.diagnostics.isEmpty { throw BookBuildError(renderer.diagnostics) }
        report.figures = renderer.figures
        report.exercises = renderer.exercises
        report.equations = renderer.equations
        report.citations = renderer.citedKeys.count

        // Assemble the site.
        var site = SiteAssembler(manifest: manifest, pages: rendered)
        if !renderer.citedKeys.isEmpty {
            site.addBibliography(bibliography, cited: renderer.citedKeys)
        }
        var files = site.files()
        files["assets/katex/katex.min.js"] = try bytes(katex.appendingPathComponent("katex.min.js"))
        files["assets/katex/katex.min.css"] = try bytes(katex.appendingPathComponent("katex.min.css"))
        let fontsDir = katex.appendingPathComponent("fonts")
        for f in try fm.contentsOfDirectory(atPath: fontsDir.path).sorted() where [".woff2", ".woff", ".ttf"].contains(where: { f.hasSuffix($0) }) {
            files["assets/katex/fonts/\(f)"] = try bytes(fontsDir.appendingPathComponent(f))
        }
        report.pages = site.pageNames
        report.files = files.count
        report.bytes = files.values.reduce(0) { $0 + $1.count }
        return (files, report)
    }

    private func bytes(_ url: URL) throws -> [UInt8] {
        guard let d = FileManager.default.contents(atPath: url.resolvingSymlinksInPath().path) else {
            throw BookBuildError([BookDiagnostic(file: url.path, line: 0, "cannot read (install: apt-get install libjs-katex)")])
        }
        return [UInt8](d)
    }
}

/// Writes a rendered site atomically: into a temporary sibling folder, then renamed over the old one.
public enum SiteWriter {
    public static func write(_ files: [String: [UInt8]], to output: URL) throws {
        let fm = FileManager.default
        let parent = output.deletingLastPathComponent()
        try fm.createDirectory(at: parent, withIntermediateDirectories: true)
        let pid = ProcessInfo.processInfo.processIdentifier
        let temp = parent.appendingPathComponent(".\(output.lastPathComponent).tmp-\(pid)")
        let old = parent.appendingPathComponent(".\(output.lastPathComponent).old-\(pid)")
        try? fm.removeItem(at: temp)
        try? fm.removeItem(at: old)
        do {
            try fm.createDirectory(at: temp, withIntermediateDirectories: true)
            for path in files.keys.sorted() {
                let url = temp.appendingPathComponent(path)
                try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
                guard fm.createFile(atPath: url.path, contents: Data(files[path]!)) else {
                    throw BookBuildError([BookDiagnostic(file: url.path, line: 0, "cannot write")])
                }
            }
            if fm.fileExists(atPath: output.path) { try fm.moveItem(at: output, to: old) }
            try fm.moveItem(at: temp, to: output)
            try? fm.removeItem(at: old)
        } catch {
            try? fm.removeItem(at: temp)
            if !fm.fileExists(atPath: output.path) && fm.fileExists(atPath: old.path) { try? fm.moveItem(at: old, to: output) }
            throw error
        }
    }

    /// Reads a site folder back into memory (for checks).
    public static func read(_ root: URL) throws -> [String: [UInt8]] {
        let fm = FileManager.default
        var files: [String: [UInt8]] = [:]
        let base = root.standardizedFileURL.path
        guard let e = fm.enumerator(atPath: base) else { return [:] }
        while let rel = e.nextObject() as? String {
            var isDir: ObjCBool = false
            let full = base + "/" + rel
            if fm.fileExists(atPath: full, isDirectory: &isDir), !isDir.boolValue, let d = fm.contents(atPath: full) {
                files[rel] = [UInt8](d)
            }
        }
        return files
    }
}
