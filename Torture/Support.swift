import DurableTestKit
import Foundation
import GRDB
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A failure of the suite itself or of a scenario's set-up, with a sentence that says what.
struct TortureFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Writes a line to standard output at once (unbuffered, so that lines of a process
/// killed or crashing later are not lost).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

/// The message of a log line a worker wrote (what follows "[Durable] "), or the line.
func logMessage(_ line: some StringProtocol) -> String {
    guard let range = line.range(of: "[Durable] ") else { return String(line) }
    return String(line[range.upperBound...])
}

/// A logger that drops everything: for the engines the suite opens in its own process.
let quietLogger = Logger(label: "torture") { _ in SwiftLogNoOpLogHandler() }

// MARK: - Files

/// Reads the lines appended to a file since the last call.
struct LogTail {
    let path: String
    private var offset: UInt64 = 0
    private var partial = Data()

    init(path: String) { self.path = path }

    mutating func newLines() throws -> [String] {
        guard let handle = FileHandle(forReadingAtPath: path) else { return [] }
        defer { try? handle.close() }
        try handle.seek(toOffset: offset)
        let data = try handle.readToEnd() ?? Data()
        offset += UInt64(data.count)
        partial.append(data)
        guard let lastNewline = partial.lastIndex(of: UInt8(ascii: "\n")) else { return [] }
        let complete = partial[partial.startIndex...lastNewline]
        partial = Data(partial[(lastNewline + 1)...])
        return String(decoding: complete, as: UTF8.self).split(separator: "\n").map(String.init)
    }
}

func fileSize(_ path: String) -> Int? {
    (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int
}

func fileContents(_ path: String) -> Data? {
    FileManager.default.contents(atPath: path)
}

/// A scenario's folder under the run's scratch folder.
struct Folder: Sendable {
    let path: String

    init(_ path: String) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }
}

// MARK: - Child processes

/// A DurableTestWorker process (the worker harness, DurableTestKit's ChildProcess).
typealias Child = ChildProcess

extension ChildProcess {
    /// Starts `DurableTestWorker <arguments>` with its output in `outputPath`.
    convenience init(_ label: String, _ arguments: [String], output outputPath: String, environment: [String: String] = [:])
        throws
    {
        try self.init(label, worker: arguments, output: outputPath, environment: environment)
    }
}

/// Runs SQL through the sqlite3 shell when it is installed (as a person would),
/// otherwise through a GRDB connection. Returns the shell's output or the error.
func sqlite3(_ path: String, _ sql: String) -> (ok: Bool, output: String) {
    if let shell = findExecutable(["/usr/bin/sqlite3", "/usr/local/bin/sqlite3", "/bin/sqlite3"]) {
        let result = runCommand(shell, ["-bail", path, sql])
        return (result.status == 0, result.output.trimmingCharacters(in: .whitespacesAndNewlines))
    }
    do {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        try queue.writeWithoutTransaction { db in try db.execute(sql: sql) }
        return (true, "")
    } catch {
        return (false, "\(error)")
    }
}

// MARK: - Time

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

func formatSeconds(_ duration: Duration) -> String {
    String(format: "%.1f s", duration.seconds)
}

// MARK: - Probes

/// Runs `body` with an ``SQLProbe`` on `database` (an SQLite file or a PostgreSQL
/// schema's URL), closing it afterwards whatever happens.
func withProbe<T>(_ database: String, _ body: (SQLProbe) async throws -> T) async throws -> T {
    let probe = try await SQLProbe.open(database)
    do {
        let value = try await body(probe)
        await probe.close()
        return value
    } catch {
        await probe.close()
        throw error
    }
}
