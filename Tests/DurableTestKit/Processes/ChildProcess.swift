public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A process started by a test, the torture suite or a benchmark: killed with
/// SIGKILL, or waited for until it exits. Its standard output and error go to one file,
/// quoted in failure messages. A child still running when this is released is
/// killed, so a failing run leaves no process behind.
///
/// ```swift
/// let worker = try ChildProcess("worker", worker: ["run", path], output: "/tmp/worker.out")
/// try await worker.sigkill()
/// ```
public final class ChildProcess: Sendable {
    public let label: String
    public let pid: Int32
    public let outputPath: String
    private let process: SpawnedProcess

    /// Starts `executable` with `arguments` (and `environment` added to this
    /// process's), its output in the file at `outputPath`.
    public init(
        _ label: String, executable: URL, arguments: [String], output outputPath: String,
        environment: [String: String] = [:]
    ) throws {
        self.label = label
        self.outputPath = outputPath
        process = try SpawnedProcess(
            executable.path, arguments,
            environment: environment.isEmpty ? nil : ProcessInfo.processInfo.environment.merging(environment) { $1 },
            output: outputPath)
        pid = process.pid
    }

    public var isRunning: Bool { process.isRunning }

    /// Everything the child wrote.
    public var fullOutput: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    /// The last `limit` characters the child wrote, for messages.
    public func output(last limit: Int = 3000) -> String {
        let text = fullOutput
        return text.count > limit ? "…" + text.suffix(limit) : text
    }

    /// Kills the child with SIGKILL and waits until it is gone and reaped, so that
    /// the next worker on this host can prove it dead.
    public func sigkill() async throws {
        process.signal(SIGKILL)
        _ = try await waitForExit(timeout: .seconds(30))
    }

    /// Sends SIGKILL without waiting (for cleanups that cannot wait).
    public func killNow() {
        process.signal(SIGKILL)
    }

    /// Sends SIGTERM.
    public func terminate() {
        process.signal(SIGTERM)
    }

    /// Waits until the child has exited and been reaped; returns its termination
    /// status (the signal number when killed by one).
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(90)) async throws -> (status: Int32, signalled: Bool) {
        do {
            return try await process.waitForExit(timeout: timeout)
        } catch {
            throw TestKitError("\(label) (pid \(pid)) did not exit within \(timeout); output:\n\(output())")
        }
    }

    /// Waits for the child's exit; kills it if it has not exited within `timeout`.
    /// `nil` when it had to be killed.
    public func exit(within timeout: Duration) async throws -> (status: Int32, signalled: Bool)? {
        do {
            return try await waitForExit(timeout: timeout)
        } catch {
            try await sigkill()
            return nil
        }
    }

    /// Waits for a normal exit with status 0.
    public func expectCleanExit(timeout: Duration = .seconds(90)) async throws {
        let (status, signalled) = try await waitForExit(timeout: timeout)
        guard !signalled, status == 0 else {
            throw TestKitError(
                "\(label) ended with \(signalled ? "signal" : "status") \(status); output:\n\(output())")
        }
    }

    /// Throws when the child ended, with its output: for polling loops that wait
    /// on a child's progress.
    public func requireRunning() throws {
        guard let ending = process.termination else { return }
        throw TestKitError(
            "\(label) (pid \(pid)) exited early with \(ending.signalled ? "signal" : "status") \(ending.status); "
                + "output:\n\(output())")
    }
}

extension ChildProcess {
    /// Starts `DurableTestWorker <arguments>` (see ``WorkerExecutable``) with its
    /// output in the file at `outputPath`.
    public convenience init(
        _ label: String, worker arguments: [String], output outputPath: String, environment: [String: String] = [:]
    ) throws {
        try self.init(
            label, executable: WorkerExecutable.url(), arguments: arguments, output: outputPath,
            environment: environment)
    }

    /// Starts `DurableTestWorker <arguments>` with its output in `directory`.
    public convenience init(_ label: String, arguments: [String], in directory: TemporaryDirectory) throws {
        try self.init(label, worker: arguments, output: directory.file("\(label).out"))
    }

    /// What the child wrote to standard output and error (its last 4000 characters).
    public var output: String { output(last: 4000) }

    /// The `DurableTestWorker` executable.
    public static func workerExecutable() throws -> URL { try WorkerExecutable.url() }

    /// The `durable` command-line tool, built next to the worker.
    public static func durableExecutable() throws -> URL {
        try WorkerExecutable.url().deletingLastPathComponent().appendingPathComponent("durable")
    }
}

extension ChildProcess: PolledChild {
    public var pollFailureDetail: String { "; \(label) output:\n\(output)" }
}
