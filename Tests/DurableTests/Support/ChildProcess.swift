import DurableTestSupport
import Durable
import Foundation
import GRDB
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The shared `DurableTestSupport` types, visible to every file of the tests.
typealias ChildProcess = DurableTestSupport.ChildProcess
typealias DatabaseProbe = DurableTestSupport.DatabaseProbe
typealias SpawnedProcess = DurableTestSupport.SpawnedProcess

extension ChildProcess {
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
    convenience init(_ label: String, arguments: [String], in directory: TemporaryDirectory) throws {
        try self.init(
            label, executable: Self.workerExecutable(), arguments: arguments, output: directory.file("\(label).out"))
    }

    /// What the child wrote to standard output and error (its last 4000 characters).
    var output: String { output(last: 4000) }

    /// The `durable` command-line tool, built next to the worker.
    static func durableExecutable() throws -> URL {
        try workerExecutable().deletingLastPathComponent().appendingPathComponent("durable")
    }
}

/// How a run of the `durable` tool ended.
struct DurableToolOutput {
    var status: Int32
    var standardOutput: String
    var standardError: String
    var lines: [String] { standardOutput.split(separator: "\n").map(String.init) }
}

/// Runs the built `durable` tool with `arguments` (without `$DURABLE_DB`) to the end.
func runDurableTool(_ arguments: [String]) throws -> DurableToolOutput {
    let finished = try SpawnedProcess.run(
        try ChildProcess.durableExecutable().path, arguments,
        environment: ProcessInfo.processInfo.environment.filter { $0.key != "DURABLE_DB" }, mergingErrors: false)
    return DurableToolOutput(
        status: finished.signalled ? 128 + finished.status : finished.status, standardOutput: finished.standardOutput,
        standardError: finished.standardError)
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

/// Concurrent steps; runs only in DurableTestWorker (FanSteps.swift there).
struct ChildFanSteps: Job {
    static let name = "fan-steps"
    func run(_ input: Int, context: TaskContext) async throws -> Int {
        throw TestFailure(reason: "fan-steps runs only in DurableTestWorker")
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

// MARK: - Files written by the worker

/// The lines of a file written with `appendLine` (an execution or acknowledgement
/// log); a missing file has none.
func lines(of path: String) throws -> [String] {
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
}

/// How often each line appears in a file written with `appendLine`.
func countLines(of path: String) throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for line in try lines(of: path) { counts[line, default: 0] += 1 }
    return counts
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
