import Durable
import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `DurableTestWorker` process started by a test: killed with SIGKILL, or waited
/// for until it exits. Its standard output and error go to files in the test's
/// directory, quoted in failure messages. A child still running when this is
/// released is killed, so a failing test leaves no process behind.
final class ChildProcess: Sendable {
    let label: String
    let pid: Int32
    let outputPath: String
    private let process: Process
    /// Field 22 of /proc/<pid>/stat at start, to tell a reused pid apart.
    private let startTime: String?

    /// The worker binary: built by `swift build --build-tests` next to the test
    /// executable. `DURABLE_TEST_WORKER` overrides the location.
    static func workerExecutable() throws -> URL {
        if let path = ProcessInfo.processInfo.environment["DURABLE_TEST_WORKER"] {
            return URL(fileURLWithPath: path)
        }
        var candidates: [URL] = []
        #if os(Linux)
            if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                candidates.append(URL(fileURLWithPath: executable).deletingLastPathComponent())
            }
        #endif
        for bundle in Bundle.allBundles where bundle.bundlePath.hasSuffix(".xctest") {
            candidates.append(bundle.bundleURL.deletingLastPathComponent())
        }
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for directory in candidates {
            let url = directory.appendingPathComponent("DurableTestWorker")
            if FileManager.default.isExecutableFile(atPath: url.path) { return url }
        }
        throw TestFailure(
            reason: "DurableTestWorker not found next to the test executable (looked in \(candidates.map(\.path))); "
                + "build it with `swift build --build-tests` or set DURABLE_TEST_WORKER")
    }

    /// Starts `DurableTestWorker <arguments>` with its output in `directory`.
    init(_ label: String, arguments: [String], in directory: TemporaryDirectory) throws {
        self.label = label
        outputPath = directory.file("\(label).out")
        guard FileManager.default.createFile(atPath: outputPath, contents: nil) else {
            throw TestFailure(reason: "cannot create \(outputPath)")
        }
        let output = try FileHandle(forWritingTo: URL(fileURLWithPath: outputPath))
        defer { try? output.close() }
        let process = Process()
        process.executableURL = try Self.workerExecutable()
        process.arguments = arguments
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

    var isRunning: Bool { process.isRunning }

    /// What the child wrote to standard output and error (its last 4000 characters).
    var output: String {
        let text = (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "(no output file)"
        return text.count > 4000 ? "…" + text.suffix(4000) : text
    }

    /// Kills the child with SIGKILL and waits until it is gone and reaped, so that
    /// the next worker on this host can prove it dead.
    func sigkill() async throws {
        if process.isRunning, kill(pid, SIGKILL) != 0, errno != ESRCH {
            throw TestFailure(reason: "\(label): kill(\(pid), SIGKILL) failed with errno \(errno)")
        }
        _ = try await waitForExit(timeout: .seconds(30))
    }

    /// Waits until the child has exited and been reaped; returns its termination
    /// status (the signal number when killed by one).
    @discardableResult
    func waitForExit(timeout: Duration = .seconds(90)) async throws -> (status: Int32, signalled: Bool) {
        let deadline = ContinuousClock.now + timeout
        while process.isRunning || isStillInProcessTable {
            guard ContinuousClock.now < deadline else {
                throw TestFailure(reason: "\(label) (pid \(pid)) did not exit within \(timeout); output:\n\(output)")
            }
            try await Task.sleep(for: .milliseconds(5))
        }
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal)
    }

    /// Waits for a normal exit with status 0.
    func expectCleanExit(timeout: Duration = .seconds(90)) async throws {
        let (status, signalled) = try await waitForExit(timeout: timeout)
        guard !signalled, status == 0 else {
            throw TestFailure(
                reason: "\(label) ended with \(signalled ? "signal" : "status") \(status); output:\n\(output)")
        }
    }

    /// Throws when the child ended, with its output: for polling loops that wait on
    /// a child's progress.
    func requireRunning() throws {
        guard process.isRunning else {
            throw TestFailure(
                reason:
                    "\(label) (pid \(pid)) exited early with status \(process.terminationStatus); output:\n\(output)")
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

// MARK: - Jobs of the worker, as the test process sees them

/// The test process creates and awaits tasks of DurableTestWorker's jobs but never
/// runs them (it runs no worker): these types carry the stored names and types.
struct ChildCrashWork: Job {
    static let name = "crash-work"
    func run(_ input: Int, context: TaskContext) async throws -> Int {
        throw TestFailure(reason: "crash-work runs only in DurableTestWorker")
    }
}

struct ChildSleeper: Job {
    static let name = "sleeper"
    func run(_ input: String, context: TaskContext) async throws -> String {
        throw TestFailure(reason: "sleeper runs only in DurableTestWorker")
    }
}

/// A multi-step parent that creates three `leaf` children; see DurableTestWorker.
struct ChildPipeline: Job {
    static let name = "pipeline"
    func run(_ input: Int, context: TaskContext) async throws -> Int {
        throw TestFailure(reason: "pipeline runs only in DurableTestWorker")
    }
}

/// A child of `pipeline`; see DurableTestWorker.
struct ChildLeaf: Job {
    static let name = "leaf"
    func run(_ input: Int, context: TaskContext) async throws -> Int {
        throw TestFailure(reason: "leaf runs only in DurableTestWorker")
    }
}

/// A step, a durable sleep and a step; see DurableTestWorker.
struct ChildNapper: Job {
    static let name = "napper"
    func run(_ input: Int, context: TaskContext) async throws -> Int {
        throw TestFailure(reason: "napper runs only in DurableTestWorker")
    }
}

// MARK: - Reading the file directly

/// Plain SQL reads of a Durable file, on a connection of its own.
final class DatabaseProbe: Sendable {
    private let queue: DatabaseQueue

    init(path: String) throws {
        var configuration = Configuration()
        configuration.label = "DatabaseProbe"
        configuration.busyMode = .timeout(30)
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    func int(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    func ids(_ sql: String, _ arguments: StatementArguments = []) throws -> Set<Int64> {
        try queue.read { db in Set(try Int64.fetchAll(db, sql: sql, arguments: arguments)) }
    }

    func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try queue.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
    }

    func strings(_ sql: String, _ arguments: StatementArguments = []) throws -> [String] {
        try queue.read { db in try String.fetchAll(db, sql: sql, arguments: arguments) }
    }

    func integrityCheck() throws -> [String] {
        try strings("PRAGMA integrity_check")
    }

    func close() throws { try queue.close() }
}

// MARK: - Files written by the worker

/// The lines of a file written with `appendLine` (an execution or acknowledgement
/// log); a missing file has none.
func lines(of path: String) throws -> [String] {
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
}

/// How often each integer appears in a file with one per line.
func lineCounts(of path: String) throws -> [Int: Int] {
    var counts: [Int: Int] = [:]
    for line in try lines(of: path) {
        guard let value = Int(line) else {
            throw TestFailure(reason: "\(path) has a line that is not a number: \(line)")
        }
        counts[value, default: 0] += 1
    }
    return counts
}

// MARK: - Waiting without hanging

/// Polls `condition` every few milliseconds until it holds; fails with `what` after
/// `timeout`. `child`, when given, must keep running meanwhile.
func poll(
    _ what: String, timeout: Duration = .seconds(60), child: ChildProcess? = nil,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        try child?.requireRunning()
        guard ContinuousClock.now < deadline else {
            throw TestFailure(
                reason: "timed out after \(timeout) waiting until \(what)"
                    + (child.map { "; \($0.label) output:\n\($0.output)" } ?? ""))
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Runs `operation`, failing with `what` if it has not returned after `timeout`.
func withTimeout<T: Sendable>(
    _ what: String, _ timeout: Duration = .seconds(60), _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestFailure(reason: "timed out after \(timeout) waiting until \(what)")
        }
        return value
    }
}
