import ArgumentParser
import DiffusionBook
import DiffusionModels
import DiffusionServer
import Foundation

/// `diffusion book …`: build the book's static site, check it, serve it locally.
struct Book: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Build, check and serve the book (Markdown in book/ → static site in out/site).",
        subcommands: [BookBuild.self, BookServe.self, BookCheck.self]
    )
}

struct BookSourceOptions: ParsableArguments {
    @Option(help: "The book's folder (holds book.json).") var source: String = "book"
    @Option(help: "Cache folder for experiment results (default: the output's sibling 'cache').") var cache: String?
    @Flag(help: "Recompute every experiment instead of using the cache.") var noCache = false

    func builder(out: String) -> BookBuilder {
        let outURL = URL(fileURLWithPath: out)
        let cacheURL = noCache ? nil : URL(fileURLWithPath: cache ?? outURL.deletingLastPathComponent().appendingPathComponent("cache").path)
        return BookBuilder(source: URL(fileURLWithPath: source), output: outURL, cache: cacheURL) { line in
            FileHandle.standardError.write(Data("  \(line)\n".utf8))
        }
    }
}

/// Prints a build failure's diagnostics and exits with a non-zero status.
func reportBookFailure(_ error: any Error) -> ExitCode {
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    return ExitCode.failure
}

struct BookBuild: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "build", abstract: "Build the static site (figures and numbers computed by the library).")
    @OptionGroup var options: BookSourceOptions
    @Option(help: "Output folder for the site (replaced atomically).") var out: String = "out/site"

    func run() throws {
        let t0 = Date()
        FileHandle.standardError.write(Data("Building the book from \(options.source)/ …\n".utf8))
        do {
            let report = try options.builder(out: out).build()
            let s = String(format: "%.2f", Date().timeIntervalSince(t0))
            print("Built \(report.pages.count) pages (\(report.figures) figures, \(report.equations) numbered equations, \(report.exercises) exercises, \(report.citations) works cited), \(report.files) files, \(report.bytes / 1024) KiB in \(s) s → \(out)/")
        } catch {
            throw reportBookFailure(error)
        }
    }
}

struct BookCheck: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "check", abstract: "Build the book in memory and check links, anchors, answers and figures; writes nothing but the cache.")
    @OptionGroup var options: BookSourceOptions

    func run() throws {
        let files: [String: [UInt8]]
        do { (files, _) = try options.builder(out: "out/site").render() } catch { throw reportBookFailure(error) }
        let r = SiteChecker.check(files)
        for p in r.problems { print("problem: \(p)") }
        print("\(r.pages) pages, \(r.links) local links (\(r.externalLinks) external, not fetched), \(r.exercises) exercises, \(r.figures) figures: \(r.ok ? "all good" : "\(r.problems.count) problems")")
        if !r.ok { throw ExitCode.failure }
    }
}

struct BookServe: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Serve the built site on this machine (127.0.0.1 unless --host says otherwise), with the generation API.",
        discussion: "The API samples the checkpoints (*.safetensors written by 'diffusion train') in the --models folder: GET /api/models lists them, POST /api/generate with a JSON body such as {\"model\": \"unet-cfg-digits\", \"count\": 16, \"label\": 7, \"guidanceScale\": 3} returns a PNG grid (image models) or JSON points (toy models). See docs/API.md."
    )
    @Option(help: "The built site's folder.") var site: String = "out/site"
    @Option(help: "Folder of checkpoints the generation API serves (default: pretrained, when it exists); 'none' turns the API off.") var models: String?
    @Option(help: "Address to bind; 0.0.0.0 exposes the book to your network.") var host: String = "127.0.0.1"
    @Option(help: "Port (0 picks a free one).") var port: Int = 8000

    func validate() throws {
        guard (0...65535).contains(port) else { throw ValidationError("--port must be in 0…65535, got \(port)") }
        guard !host.isEmpty else { throw ValidationError("--host must not be empty") }
    }

    // The root command is synchronous, so the server runs on a task while this thread waits for it.
    func run() throws {
        let root = URL(fileURLWithPath: site)
        guard FileManager.default.fileExists(atPath: root.appendingPathComponent("index.html").path) else {
            throw ValidationError("no built site in '\(site)' (no index.html): run `diffusion book build` first")
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        let (site, host, port) = (self.site, self.host, self.port)
        let api = try apiHandler()
        let outcome = Outcome()
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                try await SiteServer.serve(root: root, host: host, port: port, api: api?.handler) { bound in
                    var line = "Serving \(site)/ at http://\(shownHost):\(bound)/  (Ctrl-C to stop)\n"
                    if let api { line += "Generation API over \(api.folder)/ (\(api.count) model\(api.count == 1 ? "" : "s")): GET http://\(shownHost):\(bound)/api/models, POST …/api/generate\n" }
                    FileHandle.standardOutput.write(Data(line.utf8))
                }
            } catch { outcome.set(error) }
            done.signal()
        }
        done.wait()
        if let error = outcome.error {
            FileHandle.standardError.write(Data("error: cannot serve on \(host):\(port): \(error)\n".utf8))
            throw ExitCode.failure
        }
    }
}

extension BookServe {
    /// The generation API over the --models folder, or nil when it is off.
    func apiHandler() throws -> (handler: APIHandler, folder: String, count: Int)? {
        if models == "none" { return nil }
        let folder = models ?? "pretrained"
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder, isDirectory: &isDir), isDir.boolValue else {
            if models == nil { return nil }
            throw ValidationError("--models: '\(folder)' is not a folder of checkpoints")
        }
        let service = GenerationService(folder: URL(fileURLWithPath: folder))
        let count = service.models().count
        let handler: APIHandler = { method, path, body in
            let r = service.handle(method: method, path: path, body: body)
            return APIResponse(status: r.status, contentType: r.contentType, body: r.body)
        }
        return (handler, folder, count)
    }
}

/// The error (if any) the server task ended with.
final class Outcome: @unchecked Sendable {
    private let lock = NSLock()
    private var stored: (any Error)?
    var error: (any Error)? { lock.lock(); defer { lock.unlock() }; return stored }
    func set(_ e: any Error) { lock.lock(); stored = e; lock.unlock() }
}
