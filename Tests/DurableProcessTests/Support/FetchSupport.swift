import DurableTestKit
import Foundation

// The fetch tests' HTTP server and digests.

/// Runs `body` with a started server, and stops the server whatever happens.
func withServer<T: Sendable>(_ body: (TestHTTPServer) async throws -> T) async throws -> T {
    let server = try await TestHTTPServer.start()
    do {
        let result = try await body(server)
        await server.stop()
        return result
    } catch {
        await server.stop()
        throw error
    }
}

/// The SHA-256 of each body, as the system's `sha256sum` (or `shasum -a 256`) computes it.
func sha256sum(_ bodies: [[UInt8]], in directory: TemporaryDirectory) async throws -> [String] {
    let folder = directory.file("sha-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let files = try bodies.enumerated().map { index, body in
        let path = "\(folder)/\(index)"
        try Data(body).write(to: URL(fileURLWithPath: path))
        return path
    }
    let finished =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum")
        ? try await SpawnedProcess.run("/usr/bin/sha256sum", files, mergingErrors: false)
        : try await SpawnedProcess.run("/usr/bin/shasum", ["-a", "256"] + files, mergingErrors: false)
    let output = finished.standardOutput
    let digests = output.split(separator: "\n").map { String($0.prefix(64)) }
    guard finished.status == 0, !finished.signalled, digests.count == bodies.count else {
        throw TestFailure(reason: "sha256sum failed: \(output)")
    }
    return digests
}
