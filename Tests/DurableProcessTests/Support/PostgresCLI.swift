import DurableTestKit
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The built `durable` binary on the test PostgreSQL server (DURABLE_TEST_POSTGRES_URL).

/// The test server's URL on a schema of its own: a new one unless `schema` is
/// given; `password` goes in the URL when given (the test server trusts local
/// connections, so it is not checked, only carried). Throws when no server is
/// configured: these tests fail rather than skip.
func postgresURL(schema: String? = nil, password: String? = nil) throws -> String {
    guard let url = PostgresTestServer.url else {
        throw TestKitError(PostgresTestServer.missingReason ?? "no PostgreSQL server")
    }
    guard var parts = URLComponents(string: url) else { throw TestKitError("cannot read \(url)") }
    if let password { parts.password = password }
    parts.queryItems = [URLQueryItem(name: "schema", value: schema ?? PostgresTestServer.newSchemaName())]
    guard let text = parts.string else { throw TestKitError("cannot write a URL from \(url)") }
    return text
}

/// The test server's URL (on a new schema) with `change` applied to its parts:
/// another port, database or user.
func postgresURL(changing change: (inout URLComponents) -> Void) throws -> String {
    let url = try postgresURL()
    guard var parts = URLComponents(string: url) else { throw TestKitError("cannot read \(url)") }
    change(&parts)
    guard let text = parts.string else { throw TestKitError("cannot write a URL from \(url)") }
    return text
}

/// Runs the built `durable` to its end with `environment` added to this
/// process's (without `$DURABLE_DB` unless given there), in `directory`.
func durableTool(
    _ arguments: [String], environment: [String: String] = [:], in directory: String? = nil
) async throws -> DurableResult {
    var base = ProcessInfo.processInfo.environment.filter { $0.key != "DURABLE_DB" }
    base.merge(environment) { _, new in new }
    let finished = try await SpawnedProcess.run(
        try ChildProcess.durableExecutable().path, arguments, environment: base, workingDirectory: directory,
        mergingErrors: false)
    return DurableResult(
        status: finished.signalled ? 128 + finished.status : finished.status, standardOutput: finished.standardOutput,
        standardError: finished.standardError)
}

extension DurableResult {
    /// The lines of standard output.
    var lines: [String] { outputLines }
}

/// A TCP port on 127.0.0.1 that nothing listens on: bound, then let go.
func unusedPort() throws -> Int {
    let socket = try BoundSocket()
    defer { socket.close() }
    return socket.port
}

/// A socket bound to a free port on 127.0.0.1; with ``listen()``, a server that
/// takes connections (the kernel completes them) and never answers.
final class BoundSocket: Sendable {
    let fd: Int32
    let port: Int

    init() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestKitError("socket: \(String(cString: strerror(errno)))") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let fd = fd
        let bound = withUnsafeMutablePointer(to: &address) { pointer in
            pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { raw in
                bind(fd, raw, length) == 0 && getsockname(fd, raw, &length) == 0
            }
        }
        guard bound else {
            let reason = String(cString: strerror(errno))
            closeDescriptor(fd)
            throw TestKitError("bind: \(reason)")
        }
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    /// Takes connections from now on, into a backlog nobody reads.
    func listen() throws {
        guard listenOn(fd) else { throw TestKitError("listen: \(String(cString: strerror(errno)))") }
    }

    func close() {
        closeDescriptor(fd)
    }
}

// At file scope, where close and listen are the C library's, not BoundSocket's.
private func closeDescriptor(_ fd: Int32) { _ = close(fd) }
private func listenOn(_ fd: Int32) -> Bool { listen(fd, 16) == 0 }
