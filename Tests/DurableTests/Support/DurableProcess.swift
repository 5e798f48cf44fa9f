import Durable
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The `durable` binary run by the fetch tests, and their HTTP server and digests.

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

/// Runs `durable` until it exits.
func durable(
    _ arguments: [String], standardInput: String? = nil, in directory: TemporaryDirectory,
    workingDirectory: String? = nil
) async throws -> DurableProcess.Ending {
    let process = try DurableProcess(
        arguments, standardInput: standardInput, in: directory, label: "durable-\(UUID().uuidString)",
        workingDirectory: workingDirectory)
    return try await process.finish()
}

func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// The SHA-256 of each body, as the system's `sha256sum` (or `shasum -a 256`) computes it.
func sha256sum(_ bodies: [[UInt8]], in directory: TemporaryDirectory) throws -> [String] {
    let folder = directory.file("sha-\(UUID().uuidString)")
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let files = try bodies.enumerated().map { index, body in
        let path = "\(folder)/\(index)"
        try Data(body).write(to: URL(fileURLWithPath: path))
        return path
    }
    let finished =
        FileManager.default.isExecutableFile(atPath: "/usr/bin/sha256sum")
        ? try SpawnedProcess.run("/usr/bin/sha256sum", files, mergingErrors: false)
        : try SpawnedProcess.run("/usr/bin/shasum", ["-a", "256"] + files, mergingErrors: false)
    let output = finished.standardOutput
    let digests = output.split(separator: "\n").map { String($0.prefix(64)) }
    guard finished.status == 0, !finished.signalled, digests.count == bodies.count else {
        throw TestFailure(reason: "sha256sum failed: \(output)")
    }
    return digests
}

/// The built `durable` binary as a child process of the test, with its standard
/// output and error in files. Waiting polls, so no thread of the cooperative
/// pool (which also serves the test HTTP server) is ever blocked. Killed if still
/// running when released.
final class DurableProcess: Sendable {
    /// How the process ended, and what it printed.
    struct Ending: CustomStringConvertible {
        var status: Int32
        var signalled: Bool
        var standardOutput: String
        var standardError: String

        /// The last line on standard error.
        var summary: String { standardError.split(separator: "\n").last.map(String.init) ?? "" }

        var description: String {
            "exit \(signalled ? "signal " : "")\(status); stdout: \(standardOutput); stderr: \(standardError)"
        }
    }

    let label: String
    private let process: SpawnedProcess
    private let outputPath: String
    private let errorPath: String

    init(
        _ arguments: [String], standardInput: String? = nil, in directory: TemporaryDirectory, label: String,
        workingDirectory: String? = nil
    ) throws {
        self.label = label
        outputPath = directory.file("\(label).stdout")
        errorPath = directory.file("\(label).stderr")
        var input = "/dev/null"
        if let standardInput {
            input = directory.file("\(label).stdin")
            try write(standardInput, to: input)
        }
        process = try SpawnedProcess(
            try ChildProcess.durableExecutable().path, arguments,
            environment: ProcessInfo.processInfo.environment.filter { $0.key != "DURABLE_DB" },
            workingDirectory: workingDirectory, input: input, output: outputPath, error: errorPath)
    }

    /// Waits until the process has exited.
    func finish(timeout: Duration = .seconds(120)) async throws -> Ending {
        let ending: (status: Int32, signalled: Bool)
        do {
            ending = try await process.waitForExit(timeout: timeout)
        } catch {
            process.signal(SIGKILL)
            throw TestFailure(reason: "\(label) did not exit within \(timeout): \(read(errorPath))")
        }
        return Ending(
            status: ending.status, signalled: ending.signalled, standardOutput: read(outputPath),
            standardError: read(errorPath))
    }

    /// Sends `number` (SIGINT for a Ctrl-C, say).
    func signal(_ number: Int32) {
        process.signal(number)
    }

    /// Kills the process with SIGKILL and waits until it is gone.
    func sigkill() async throws {
        process.signal(SIGKILL)
        let ending = try await finish(timeout: .seconds(30))
        guard ending.signalled else {
            throw TestFailure(reason: "\(label) exited by itself before it was killed: \(ending)")
        }
    }

    private func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}

extension DurableProcess {
    /// `poll(child:)` wants a ``ChildProcess``; this is the same check for `durable`.
    func requireRunning() throws {
        guard process.isRunning else {
            throw TestFailure(reason: "\(label) exited early: \(read(errorPath))")
        }
    }
}

/// Polls `condition` until it holds, failing if `child` exits first or after `timeout`.
func poll(
    _ what: String, timeout: Duration = .seconds(60), child: DurableProcess, _ condition: () throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try !condition() {
        try child.requireRunning()
        guard ContinuousClock.now < deadline else { throw TestFailure(reason: "timed out waiting until \(what)") }
        try await Task.sleep(for: .milliseconds(5))
    }
}
