public import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A process started by a test or by the torture suite: killed with SIGKILL, or
/// waited for until it exits. Its standard output and error go to one file,
/// quoted in failure messages. A child still running when this is released is
/// killed, so a failing run leaves no process behind.
///
/// ```swift
/// let worker = try ChildProcess("worker", executable: url, arguments: ["run"], output: "/tmp/worker.out")
/// try await worker.sigkill()
/// ```
public final class ChildProcess: Sendable {
    public let label: String
    public let pid: Int32
    public let outputPath: String
    private let process: Process
    /// Field 22 of /proc/<pid>/stat at start, to tell a reused pid apart.
    private let startTime: String?

    /// Starts `executable` with `arguments` (and `environment` added to this
    /// process's), its output in the file at `outputPath`.
    public init(
        _ label: String, executable: URL, arguments: [String], output outputPath: String,
        environment: [String: String] = [:]
    ) throws {
        self.label = label
        self.outputPath = outputPath
        guard FileManager.default.createFile(atPath: outputPath, contents: nil) else {
            throw ChildProcessError("cannot create \(outputPath)")
        }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = executable
        process.arguments = arguments
        if !environment.isEmpty {
            process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = output
        process.standardError = output
        try process.run()
        self.process = process
        pid = process.processIdentifier
        startTime = Self.startTime(of: pid)
    }

    deinit {
        if process.isRunning { kill(pid, SIGKILL) }
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
        if process.isRunning, kill(pid, SIGKILL) != 0, errno != ESRCH {
            throw ChildProcessError("\(label): kill(\(pid), SIGKILL) failed with errno \(errno)")
        }
        _ = try await waitForExit(timeout: .seconds(30))
    }

    /// Sends SIGTERM.
    public func terminate() {
        if process.isRunning { kill(pid, SIGTERM) }
    }

    /// Waits until the child has exited and been reaped; returns its termination
    /// status (the signal number when killed by one).
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(90)) async throws -> (status: Int32, signalled: Bool) {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning || isStillInProcessTable {
            guard ContinuousClock.now < deadline else {
                throw ChildProcessError("\(label) (pid \(pid)) did not exit within \(timeout); output:\n\(output())")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
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
            throw ChildProcessError(
                "\(label) ended with \(signalled ? "signal" : "status") \(status); output:\n\(output())")
        }
    }

    /// Throws when the child ended, with its output: for polling loops that wait
    /// on a child's progress.
    public func requireRunning() throws {
        guard process.isRunning else {
            throw ChildProcessError(
                "\(label) (pid \(pid)) exited early with status \(process.terminationStatus); output:\n\(output())")
        }
    }

    /// Whether /proc still lists this very process (a zombie not yet reaped).
    private var isStillInProcessTable: Bool {
        #if os(Linux)
            guard let startTime else { return false }
            return Self.startTime(of: pid) == startTime
        #else
            return false
        #endif
    }

    private static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 19 ? String(fields[19]) : nil
    }
}

/// What went wrong with a child process, in words for a failure message.
public struct ChildProcessError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
