import DurableTestKit
import Durable
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The built `durable` binary as `durable run`'s tests run it.

// MARK: - Running the binary

/// What a finished `durable` process printed, and how it ended.
struct DurableResult: CustomStringConvertible {
    var status: Int32
    var standardOutput: String
    var standardError: String

    var outputLines: [String] { standardOutput.split(separator: "\n").map(String.init) }
    var errorLines: [String] { standardError.split(separator: "\n").map(String.init) }

    var description: String {
        "status \(status)\n--- stdout ---\n\(standardOutput)\n--- stderr ---\n\(standardError)"
    }
}

/// The built `durable` binary running in a test directory, its output going to
/// files there (read while it runs). Killed if still running when released.
final class RunningDurable: Sendable {
    let pid: Int32
    private let process: SpawnedProcess
    private let outputPath: String
    private let errorPath: String

    init(_ arguments: [String], in directory: TemporaryDirectory, input: String? = nil) throws {
        let label = UUID().uuidString
        outputPath = directory.file("durable-\(label).out")
        errorPath = directory.file("durable-\(label).err")
        var inputPath = "/dev/null"
        if let input {
            inputPath = directory.file("durable-\(label).in")
            try Data(input.utf8).write(to: URL(fileURLWithPath: inputPath))
        }
        process = try SpawnedProcess(
            try ChildProcess.durableExecutable().path, arguments,
            environment: ProcessInfo.processInfo.environment.filter { $0.key != "DURABLE_DB" },
            workingDirectory: directory.path, input: inputPath, output: outputPath, error: errorPath)
        pid = process.pid
    }

    var isRunning: Bool { process.isRunning }

    var standardError: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    var standardOutput: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) {
        process.signal(number)
    }

    /// Sends `signal` and waits until the process is gone.
    func killAndWait(_ number: Int32) async throws {
        signal(number)
        _ = try await finish()
    }

    /// Waits for the process to exit (60 s at most) and returns what it printed.
    func finish() async throws -> DurableResult {
        let ending: (status: Int32, signalled: Bool)
        do {
            ending = try await process.waitForExit(timeout: .seconds(60))
        } catch {
            throw TestFailure(reason: "durable (pid \(pid)) did not exit within 60 s; stderr:\n\(standardError)")
        }
        let status = ending.signalled ? 128 + ending.status : ending.status
        return DurableResult(status: status, standardOutput: standardOutput, standardError: standardError)
    }
}

/// Runs `durable` to the end.
func runDurable(_ arguments: [String], in directory: TemporaryDirectory, input: String? = nil) async throws
    -> DurableResult
{
    try await RunningDurable(arguments, in: directory, input: input).finish()
}

extension RunningDurable: PolledChild {
    var label: String { "durable (pid \(pid))" }

    /// Throws once the process has exited, with what it wrote to standard error.
    func requireRunning() throws {
        if !isRunning { throw TestFailure(reason: "durable exited early; stderr:\n\(standardError)") }
    }

    var pollFailureDetail: String { "" }
}

// MARK: - Files

/// Writes `commands` as the lines of a batch file and returns its path.
func writeCommands(_ commands: [String], in directory: TemporaryDirectory, name: String = "commands.txt")
    throws -> String
{
    let path = directory.file(name)
    try Data((commands.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// Creates an empty file.
func touch(_ path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil) else {
        throw TestFailure(reason: "cannot create \(path)")
    }
}

/// A database file and its WAL, byte for byte (a missing WAL is empty).
func databaseFiles(_ path: String) throws -> [Data] {
    try [path, path + "-wal"].map { file in
        FileManager.default.fileExists(atPath: file) ? try Data(contentsOf: URL(fileURLWithPath: file)) : Data()
    }
}

/// Runs one SQL statement on a database file, then closes it.
func editDatabase(_ path: String, _ sql: String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.write { try $0.execute(sql: sql) }
    try queue.close()
}

/// Whether `pid` is a zombie (exited, not yet reaped by its parent).
func isZombie(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
}

/// A line's stored result, as `durable run` writes it.
struct StoredOutcome: Decodable {
    var exitCode: Int32?
    var signal: Int32?
    var durationMs: Int64
    var stdoutTail: String
    var stderrTail: String
}

/// SQL for a line's number, read from its task's name ("line 12: ...").
let lineNumber = lineNumberSQL(of: nil)

func lineNumberSQL(of table: String?) -> String {
    let name = table.map { "\($0).name" } ?? "name"
    return "CAST(substr(\(name), 6, instr(\(name), ':') - 6) AS INTEGER)"
}
