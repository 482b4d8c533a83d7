import Foundation
import Hummingbird
import Logging

/// An API answer: status, content type and body.
public struct APIResponse: Sendable {
    public let status: Int
    public let contentType: String
    public let body: Data
    public init(status: Int, contentType: String, body: Data) { (self.status, self.contentType, self.body) = (status, contentType, body) }
}

/// Answers requests under `/api/` (method, path with query, body). It may block: the server calls it on a serial
/// queue of its own, one request at a time, never on the event loop.
public typealias APIHandler = @Sendable (_ method: String, _ path: String, _ body: Data) -> APIResponse

/// Serves a built site folder over HTTP (GET and HEAD only), and optionally an API under `/api/`. Only regular
/// files under the folder are served: `..` segments, hidden names and symbolic links leading outside it are refused.
public enum SiteServer {
    /// The largest API request body accepted.
    public static let maxRequestBytes = 1 << 16
    private static let apiQueue = DispatchQueue(label: "diffusion-api")
    /// The server's tasks run here rather than on Swift's cooperative pool, which CPU-bound work in the same process
    /// (the test suite's long synchronous tests, a sampling request) can occupy for minutes: pages are still served.
    static let executor = DispatchTaskExecutor(label: "diffusion-server")
    /// The file a request path maps to, or nil when it must not be served.
    public static func resolve(root: URL, requestPath: String) -> URL? {
        let rawPath = requestPath.split(separator: "?", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
        guard let path = rawPath.removingPercentEncoding, !path.contains("\0"), !path.contains("\\") else { return nil }
        var parts: [String] = []
        for segment in path.split(separator: "/") {
            // No parent or current directory segments, no hidden files (temp folders, dotfiles).
            if segment.hasPrefix(".") { return nil }
            parts.append(String(segment))
        }
        let rootReal = root.standardizedFileURL.resolvingSymlinksInPath()
        var url = rootReal
        for p in parts { url.appendPathComponent(p) }
        let fm = FileManager.default
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: url.path, isDirectory: &isDir) else { return nil }
        if isDir.boolValue {
            url.appendPathComponent("index.html")
            guard fm.fileExists(atPath: url.path, isDirectory: &isDir), !isDir.boolValue else { return nil }
        }
        let real = url.resolvingSymlinksInPath().standardizedFileURL.path
        guard real.hasPrefix(rootReal.path + "/") else { return nil }
        return URL(fileURLWithPath: real)
    }

    public static func contentType(_ path: String) -> String {
        switch (path as NSString).pathExtension.lowercased() {
        case "html": return "text/html; charset=utf-8"
        case "css": return "text/css; charset=utf-8"
        case "js": return "text/javascript; charset=utf-8"
        case "json": return "application/json"
        case "svg": return "image/svg+xml"
        case "png": return "image/png"
        case "woff2": return "font/woff2"
        case "woff": return "font/woff"
        case "ttf": return "font/ttf"
        case "txt": return "text/plain; charset=utf-8"
        default: return "application/octet-stream"
        }
    }

    static func application(root: URL, host: String, port: Int, quiet: Bool, api: APIHandler?,
                            onRunning: @escaping @Sendable (Int) async -> Void) -> some ApplicationProtocol {
        let responder = CallbackResponder<BasicRequestContext> { request, _ in
            if let api, request.uri.path == "/api" || request.uri.path.hasPrefix("/api/") {
                return await answer(request, api: api)
            }
            let head = request.method == .head
            guard request.method == .get || head else {
                return Response(status: .methodNotAllowed, headers: [.allow: "GET, HEAD"], body: .init())
            }
            guard let file = resolve(root: root, requestPath: request.uri.path), let data = FileManager.default.contents(atPath: file.path) else {
                let body = ByteBuffer(string: "404 Not Found\n")
                return Response(status: .notFound, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: body))
            }
            var headers: HTTPFields = [.contentType: contentType(file.path), .cacheControl: "no-cache"]
            headers[.contentLength] = String(data.count)
            return Response(status: .ok, headers: headers, body: head ? .init() : .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        var logger = Logger(label: "diffusion-book-server")
        logger.logLevel = quiet ? .critical : .notice
        return Application(
            responder: responder,
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// Reads the body (at most `maxRequestBytes`) and runs the handler off the event loop.
    static func answer(_ request: Request, api: @escaping APIHandler) async -> Response {
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: maxRequestBytes) } catch {
            let text = ByteBuffer(string: "{\"error\":\"the request body is larger than \(maxRequestBytes) bytes\"}")
            return Response(status: .contentTooLarge, headers: [.contentType: "application/json"], body: .init(byteBuffer: text))
        }
        let (method, path, data) = (request.method.rawValue, request.uri.description, Data(body.readableBytesView))
        let r = await withCheckedContinuation { (c: CheckedContinuation<APIResponse, Never>) in
            apiQueue.async { c.resume(returning: api(method, path, data)) }
        }
        var headers: HTTPFields = [.contentType: r.contentType, .cacheControl: "no-store"]
        headers[.contentLength] = String(r.body.count)
        return Response(status: .init(code: r.status), headers: headers,
                        body: request.method == .head ? .init() : .init(byteBuffer: ByteBuffer(bytes: r.body)))
    }

    /// Serves until interrupted (SIGINT/SIGTERM); `onRunning` receives the bound port.
    public static func serve(root: URL, host: String, port: Int, api: APIHandler? = nil,
                             onRunning: @escaping @Sendable (Int) async -> Void) async throws {
        let app = application(root: root, host: host, port: port, quiet: false, api: api, onRunning: onRunning)
        try await withTaskExecutorPreference(executor) { try await app.runService() }
    }

    /// Starts a server in the background (port 0 picks a free port) and returns once it is listening.
    public static func start(root: URL, host: String = "127.0.0.1", port: Int = 0, api: APIHandler? = nil) async throws -> RunningSiteServer {
        let (stream, continuation) = AsyncStream<Int>.makeStream()
        let app = application(root: root, host: host, port: port, quiet: true, api: api) { p in continuation.yield(p); continuation.finish() }
        let task = Task(executorPreference: executor) {
            defer { continuation.finish() }
            try await app.run()
        }
        var bound: Int?
        for await p in stream { bound = p }
        guard let bound else {
            if case .failure(let error) = await task.result { throw error }
            throw ServerError("the server did not start")
        }
        return RunningSiteServer(port: bound, task: task)
    }
}

public struct ServerError: Error, CustomStringConvertible {
    public let description: String
    init(_ d: String) { description = d }
}

/// A server started by `SiteServer.start`; `stop()` shuts it down.
public final class RunningSiteServer: Sendable {
    public let port: Int
    let task: Task<Void, any Error>
    init(port: Int, task: Task<Void, any Error>) { self.port = port; self.task = task }

    public func stop() async {
        task.cancel()
        _ = await task.result
    }
}

/// A task executor over a serial Dispatch queue. Its thread is neither the cooperative pool's nor a width-limited
/// global queue's (a serial queue targets the overcommitting root queue), so blocked work elsewhere in the process —
/// CPU-bound tasks, or blocking calls parked on `DispatchQueue.global()` — cannot keep it from running.
final class DispatchTaskExecutor: TaskExecutor, @unchecked Sendable {
    private let queue: DispatchQueue
    init(label: String) { queue = DispatchQueue(label: label) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}
