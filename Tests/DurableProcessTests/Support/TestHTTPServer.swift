import DurableTestKit
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A real HTTP/1.1 server on 127.0.0.1 (SwiftNIO), started by tests that run
/// `durable fetch`. It counts the requests per path and serves:
///
/// - `/item/<id>`: 200 with ``body(for:)`` of the id;
/// - `/slow/<milliseconds>/<id>`: the same after a delay;
/// - `/status/<code>`: that status, with a short body;
/// - `/redirect/<hops>/<id>`: 302 to `/redirect/<hops - 1>/<id>`, and from 1 hop to `/item/<id>`;
/// - `/loop`: 302 to itself;
/// - `/big/<bytes>`: 200 with ``bigBody(_:)``, sent in several writes;
/// - `/abc` and `/empty`: the bodies `abc` and nothing (known SHA-256 values).
///
/// Anything else is 404. Every response has a Content-Length and keeps the
/// connection open.
final class TestHTTPServer: Sendable {
    /// The port it listens on.
    let port: Int
    private let server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>
    private let serving = Mutex<Task<Void, Never>?>(nil)
    private let counts = Mutex<[String: Int]>([:])

    private init(
        server: NIOAsyncChannel<NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>, Never>, port: Int
    ) {
        self.server = server
        self.port = port
    }

    /// Starts a server on a free port of 127.0.0.1.
    static func start() async throws -> TestHTTPServer {
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .bind(host: "127.0.0.1", port: 0) { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    return try NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>(
                        wrappingChannelSynchronously: channel)
                }
            }
        guard let port = channel.channel.localAddress?.port else {
            try? await channel.channel.close()
            throw TestFailure(reason: "the test HTTP server has no port")
        }
        let server = TestHTTPServer(server: channel, port: port)
        server.serving.withLock { $0 = Task { await server.serve() } }
        return server
    }

    /// Closes the listening socket and every connection.
    func stop() async {
        let task = serving.withLock { $0 }
        task?.cancel()
        try? await server.channel.close()
        await task?.value
    }

    /// `http://127.0.0.1:<port><path>`.
    func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

    /// How many requests asked for `path`.
    func requests(to path: String) -> Int { counts.withLock { $0[path, default: 0] } }

    /// How many requests it answered in all.
    var totalRequests: Int { counts.withLock { $0.values.reduce(0, +) } }

    /// The body of `/item/<id>`: a few lines naming the id, of a length that
    /// varies with it (more than one SHA-256 block for most ids).
    static func body(for id: Int) -> [UInt8] {
        Array(String(repeating: "item \(id) of the durable fetch test\n", count: 1 + id % 9 * 7).utf8)
    }

    /// The body of `/big/<count>`: `count` bytes that do not repeat in step with
    /// SHA-256's 64-byte blocks.
    static func bigBody(_ count: Int) -> [UInt8] {
        (0..<count).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ $0 >> 9) }
    }

    // MARK: Serving

    private func serve() async {
        try? await withThrowingDiscardingTaskGroup { group in
            try await server.executeThenClose { inbound in
                for try await connection in inbound {
                    group.addTask { try? await self.handle(connection) }
                }
            }
        }
    }

    private func handle(_ connection: NIOAsyncChannel<HTTPServerRequestPart, HTTPServerResponsePart>) async throws {
        try await connection.executeThenClose { inbound, outbound in
            var head: HTTPRequestHead?
            for try await part in inbound {
                switch part {
                case .head(let request):
                    head = request
                case .body:
                    break
                case .end:
                    guard let request = head else { continue }
                    head = nil
                    counts.withLock { $0[request.uri, default: 0] += 1 }
                    let (status, headers, body) = try await respond(to: request.uri)
                    var allHeaders = headers
                    allHeaders.add(name: "Content-Length", value: "\(body.count)")
                    let responseHead = HTTPResponseHead(version: .http1_1, status: status, headers: allHeaders)
                    try await outbound.write(.head(responseHead))
                    // Large bodies go out in several writes, as a real server streams them.
                    var start = 0
                    while start < body.count {
                        let end = min(start + 16_384, body.count)
                        try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: body[start..<end]))))
                        start = end
                    }
                    try await outbound.write(.end(nil))
                }
            }
        }
    }

    private func respond(to uri: String) async throws -> (HTTPResponseStatus, HTTPHeaders, [UInt8]) {
        let parts = uri.split(separator: "/").map(String.init)
        switch parts.first {
        case "item" where parts.count == 2:
            if let id = Int(parts[1]) { return (.ok, [:], Self.body(for: id)) }
        case "slow" where parts.count == 3:
            if let milliseconds = Int(parts[1]), let id = Int(parts[2]) {
                try await Task.sleep(for: .milliseconds(milliseconds))
                return (.ok, [:], Self.body(for: id))
            }
        case "status" where parts.count == 2:
            if let code = Int(parts[1]) {
                return (HTTPResponseStatus(statusCode: code), [:], Array("status \(code)\n".utf8))
            }
        case "redirect" where parts.count == 3:
            if let hops = Int(parts[1]), let id = Int(parts[2]) {
                let target = hops > 1 ? "/redirect/\(hops - 1)/\(id)" : "/item/\(id)"
                return (.found, ["Location": target], Array("see \(target)\n".utf8))
            }
        case "big" where parts.count == 2:
            if let count = Int(parts[1]) { return (.ok, [:], Self.bigBody(count)) }
        case "loop":
            return (.found, ["Location": "/loop"], [])
        case "abc":
            return (.ok, [:], Array("abc".utf8))
        case "empty":
            return (.ok, [:], [])
        default:
            break
        }
        return (.notFound, [:], Array("no such thing: \(uri)\n".utf8))
    }
}
