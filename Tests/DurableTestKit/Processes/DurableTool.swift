import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The built `durable` command-line tool as a child process of a test.

/// How a run of the `durable` tool ended.
public struct DurableToolOutput: Sendable {
    public var status: Int32
    public var standardOutput: String
    public var standardError: String
    public var lines: [String] { standardOutput.split(separator: "\n").map(String.init) }
}

/// Runs the built `durable` tool with `arguments` (without `$DURABLE_DB`) to the end.
public func runDurableTool(_ arguments: [String]) async throws -> DurableToolOutput {
    let finished = try await SpawnedProcess.run(
        try ChildProcess.durableExecutable().path, arguments,
        environment: ProcessInfo.processInfo.environment.filter { $0.key != "DURABLE_DB" }, mergingErrors: false)
    return DurableToolOutput(
        status: finished.signalled ? 128 + finished.status : finished.status, standardOutput: finished.standardOutput,
        standardError: finished.standardError)
}

/// Runs `durable` until it exits.
public func durable(
    _ arguments: [String], standardInput: String? = nil, in directory: TemporaryDirectory,
    workingDirectory: String? = nil
) async throws -> DurableProcess.Ending {
    let process = try DurableProcess(
        arguments, standardInput: standardInput, in: directory, label: "durable-\(UUID().uuidString)",
        workingDirectory: workingDirectory)
    return try await process.finish()
}

/// Writes `text` to the file at `path`, replacing it.
public func write(_ text: String, to path: String) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: path))
}

/// The built `durable` binary as a child process of the test, with its standard
/// output and error in files. Waiting polls, so no thread of the cooperative
/// pool (which also serves a test HTTP server) is ever blocked. Killed if still
/// running when released.
public final class DurableProcess: Sendable {
    /// How the process ended, and what it printed.
    public struct Ending: CustomStringConvertible, Sendable {
        public var status: Int32
        public var signalled: Bool
        public var standardOutput: String
        public var standardError: String

        /// The last line on standard error.
        public var summary: String { standardError.split(separator: "\n").last.map(String.init) ?? "" }

        public var description: String {
            "exit \(signalled ? "signal " : "")\(status); stdout: \(standardOutput); stderr: \(standardError)"
        }
    }

    public let label: String
    private let process: SpawnedProcess
    private let outputPath: String
    private let errorPath: String

    public init(
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
    public func finish(timeout: Duration = .seconds(120)) async throws -> Ending {
        let ending: (status: Int32, signalled: Bool)
        do {
            ending = try await process.waitForExit(timeout: timeout)
        } catch {
            process.signal(SIGKILL)
            throw TestKitError("\(label) did not exit within \(timeout): \(read(errorPath))")
        }
        return Ending(
            status: ending.status, signalled: ending.signalled, standardOutput: read(outputPath),
            standardError: read(errorPath))
    }

    /// What the process has written to standard output so far.
    public var standardOutputSoFar: String { read(outputPath) }

    /// Sends `number` (SIGINT for a Ctrl-C, say).
    public func signal(_ number: Int32) {
        process.signal(number)
    }

    /// Kills the process with SIGKILL and waits until it is gone.
    public func sigkill() async throws {
        process.signal(SIGKILL)
        let ending = try await finish(timeout: .seconds(30))
        guard ending.signalled else {
            throw TestKitError("\(label) exited by itself before it was killed: \(ending)")
        }
    }

    private func read(_ path: String) -> String {
        (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    }
}

extension DurableProcess: PolledChild {
    /// Throws when the process ended, with what it wrote to standard error.
    public func requireRunning() throws {
        guard process.isRunning else {
            throw TestKitError("\(label) exited early: \(read(errorPath))")
        }
    }

    public var pollFailureDetail: String { "" }
}
