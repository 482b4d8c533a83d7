import Foundation
import Testing
@testable import DiffusionServer
#if canImport(Glibc)
import Glibc
#endif

/// A raw HTTP/1.0 exchange over a socket, so request paths reach the server exactly as written
/// (URL libraries would normalise `..` away before sending).
func rawHTTP(port: Int, _ request: String) -> String {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { return "socket failed" }
    defer { close(fd) }
    var tv = timeval(tv_sec: 20, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(UInt16(port).bigEndian)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard ok == 0 else { return "connect failed: errno \(errno)" }
    let bytes = Array(request.utf8)
    _ = bytes.withUnsafeBufferPointer { send(fd, $0.baseAddress, $0.count, 0) }
    var out = [UInt8]()
    var buf = [UInt8](repeating: 0, count: 65536)
    while true {
        let n = buf.withUnsafeMutableBufferPointer { recv(fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { break }
        out += buf[0..<n]
    }
    return String(decoding: out, as: UTF8.self)
}

/// Runs blocking work on a new thread, which no busy queue or pool can delay.
func onNewThread<T: Sendable>(_ work: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { c in Thread { c.resume(returning: work()) }.start() }
}


@Suite("Server: serves only files under the site folder")
struct ServerTests {
    static func site() throws -> (root: URL, outside: URL) {
        let base = Fixtures.tempDir("serve")
        let root = base.appendingPathComponent("site"), outside = base.appendingPathComponent("secret.txt")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("assets"), withIntermediateDirectories: true)
        try "<!DOCTYPE html><title>ok</title>".write(to: root.appendingPathComponent("index.html"), atomically: true, encoding: .utf8)
        try "body{}".write(to: root.appendingPathComponent("assets/site.css"), atomically: true, encoding: .utf8)
        try "hidden".write(to: root.appendingPathComponent(".env"), atomically: true, encoding: .utf8)
        try "TOP-SECRET".write(to: outside, atomically: true, encoding: .utf8)
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("escape.txt"), withDestinationURL: outside)
        try FileManager.default.createSymbolicLink(at: root.appendingPathComponent("up"), withDestinationURL: base)
        return (root, outside)
    }

    @Test func resolveRefusesTraversal() throws {
        let (root, _) = try Self.site()
        #expect(SiteServer.resolve(root: root, requestPath: "/")?.lastPathComponent == "index.html")
        #expect(SiteServer.resolve(root: root, requestPath: "/assets/site.css?v=1")?.lastPathComponent == "site.css")
        for bad in ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt", "/assets/%2E%2E/%2E%2E/secret.txt",
                    "/..%2fsecret.txt", "/.env", "/escape.txt", "/up/secret.txt", "/missing.html",
                    "/index.html%00.css", "/assets\\..\\..\\secret.txt", "/%ff"] {
            #expect(SiteServer.resolve(root: root, requestPath: bad) == nil, "\(bad) must not be served")
        }
    }

    @Test func httpServerRefusesTraversalAndServesPages() async throws {
        let (root, _) = try Self.site()
        let server = try await SiteServer.start(root: root)
        defer { Task { await server.stop() } }
        let port = server.port
        let ok = await onNewThread { rawHTTP(port: port, "GET / HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n") }
        #expect(ok.hasPrefix("HTTP/1.1 200") || ok.hasPrefix("HTTP/1.0 200"), "\(ok.prefix(200))")
        #expect(ok.lowercased().contains("content-type: text/html; charset=utf-8"))
        #expect(ok.contains("<title>ok</title>"))
        for path in ["/../secret.txt", "/%2e%2e/secret.txt", "/assets/../../secret.txt", "/escape.txt", "/..%2f..%2fsecret.txt", "/.env"] {
            let r = await onNewThread { rawHTTP(port: port, "GET \(path) HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n") }
            #expect(!r.contains("TOP-SECRET") && !r.contains("hidden"), "\(path) leaked a file")
            #expect(r.contains(" 404 ") || r.contains(" 400 "), "\(path): \(r.prefix(80))")
        }
        let post = await onNewThread { rawHTTP(port: port, "POST / HTTP/1.0\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n") }
        #expect(post.contains(" 405 "))
        await server.stop()
    }

    @Test func apiRequestsReachTheHandlerOffTheEventLoop() async throws {
        let (root, _) = try Self.site()
        let api: APIHandler = { method, path, body in
            APIResponse(status: path.hasPrefix("/api/teapot") ? 418 : 200, contentType: "text/plain",
                        body: Data("\(method) \(path) \(body.count) \(String(decoding: body, as: UTF8.self))".utf8))
        }
        let server = try await SiteServer.start(root: root, api: api)
        let port = server.port
        let post = await onNewThread { rawHTTP(port: port, "POST /api/generate?x=1 HTTP/1.0\r\nHost: x\r\nContent-Length: 11\r\n\r\n{\"a\": true}") }
        #expect(post.contains(" 200 ") && post.hasSuffix("POST /api/generate?x=1 11 {\"a\": true}"), "\(post)")
        #expect(post.lowercased().contains("cache-control: no-store"))
        let teapot = await onNewThread { rawHTTP(port: port, "GET /api/teapot HTTP/1.0\r\nHost: x\r\n\r\n") }
        #expect(teapot.contains(" 418 "))
        let big = String(repeating: "x", count: SiteServer.maxRequestBytes + 1)
        let tooLarge = await onNewThread { rawHTTP(port: port, "POST /api/generate HTTP/1.0\r\nHost: x\r\nContent-Length: \(big.utf8.count)\r\n\r\n\(big)") }
        #expect(tooLarge.contains(" 413 ") && tooLarge.contains("larger than"), "\(tooLarge.prefix(200))")
        let page = await onNewThread { rawHTTP(port: port, "GET / HTTP/1.0\r\nHost: x\r\n\r\n") }
        #expect(page.contains("<title>ok</title>"), "the site is still served beside the API")
        await server.stop()
        let plain = try await SiteServer.start(root: root)
        let plainPort = plain.port
        let noAPI = await onNewThread { rawHTTP(port: plainPort, "GET /api/models HTTP/1.0\r\nHost: x\r\n\r\n") }
        #expect(noAPI.contains(" 404 "), "without a handler /api/ is just a missing file")
        await plain.stop()
    }

    /// Busy threads elsewhere in the process (every cooperative-pool thread and as many global-queue threads blocked
    /// for 8 s) must not stop the server from answering: its tasks run on an executor of their own.
    @Test func pagesAreServedWhileTheCooperativePoolIsBusy() async throws {
        let (root, _) = try Self.site()
        let server = try await SiteServer.start(root: root)
        let port = server.port
        let blockers = (0..<ProcessInfo.processInfo.activeProcessorCount).map { _ in
            Task.detached { usleep(8_000_000) }
        }
        // Blocking calls parked on the global queue, as blocking library code may do.
        for _ in 0..<ProcessInfo.processInfo.activeProcessorCount { DispatchQueue.global().async { usleep(8_000_000) } }
        usleep(500_000)  // let the blockers take the pool's threads
        // A thread of its own for the client (the global queue is busy), timed inside: resuming this test's own task
        // also waits for a pool thread.
        let (page, seconds) = await onNewThread {
            let start = Date()
            let page = rawHTTP(port: port, "GET / HTTP/1.0\r\nHost: x\r\nConnection: close\r\n\r\n")
            return (page, Date().timeIntervalSince(start))
        }
        #expect(page.contains("<title>ok</title>"), "no answer while the pool was busy: \(page.prefix(80))")
        #expect(seconds < 5, "the answer took \(seconds) s")
        for b in blockers { await b.value }
        await server.stop()
    }
}
