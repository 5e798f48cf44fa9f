import DurableTestSupport
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

// MARK: - Randomness

/// A seeded generator (SplitMix64), so that a run's random choices are printed and repeatable.
struct SeededGenerator: RandomNumberGenerator {
    private var state: UInt64

    init(seed: UInt64) { state = seed }

    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A generator for one scenario, derived from the run's seed and the scenario's name.
    static func derived(from seed: UInt64, _ name: String) -> SeededGenerator {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return SeededGenerator(seed: seed ^ hash)
    }
}

// MARK: - Files

/// Appends `line` and a newline to `path` with one O_APPEND write: lines of concurrent
/// writers never interleave, and after a SIGKILL a line is either whole or absent.
func appendLine(_ line: String, to path: String) throws {
    let bytes = Array((line + "\n").utf8)
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    guard fd >= 0 else { throw TortureFailure("cannot open \(path) for appending: errno \(errno)") }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
        throw TortureFailure("short write to \(path): \(written) of \(bytes.count) bytes (errno \(errno))")
    }
}

/// The lines of a file; a missing file has none.
func lines(of path: String) throws -> [String] {
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
}

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

// MARK: - Commands (runCommand and findExecutable: DurableTestSupport)

/// Sets or clears the immutable attribute (which stops root too, unlike permission bits).
@discardableResult
func setImmutable(_ on: Bool, _ paths: [String]) -> (ok: Bool, output: String) {
    guard let chattr = findExecutable(["/usr/bin/chattr", "/bin/chattr", "/sbin/chattr"]) else {
        return (false, "chattr not found")
    }
    let existing = paths.filter { FileManager.default.fileExists(atPath: $0) }
    guard !existing.isEmpty else { return (true, "") }
    let result = runCommand(chattr, [on ? "+i" : "-i"] + existing)
    return (result.status == 0, result.output)
}

// MARK: - Child processes

/// A copy of this executable started in worker mode.
typealias Child = ChildProcess

/// Plain SQL on a file (shared with the crash tests).
typealias DatabaseProbe = DurableTestSupport.DatabaseProbe
typealias SmallFilesystem = DurableTestSupport.SmallFilesystem

extension ChildProcess {
    /// This executable.
    static let tortureExecutable: String = {
        #if os(Linux)
            if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
                return path
            }
        #endif
        return Bundle.main.executablePath ?? CommandLine.arguments[0]
    }()

    /// Starts `Torture worker <arguments>` with its output in `outputPath`.
    convenience init(_ label: String, _ arguments: [String], output outputPath: String, environment: [String: String] = [:])
        throws
    {
        try self.init(
            label, executable: URL(fileURLWithPath: Self.tortureExecutable), arguments: ["worker"] + arguments,
            output: outputPath, environment: environment)
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

/// Nanoseconds of CLOCK_MONOTONIC, comparable between processes of one machine.
func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) / 1e18
    }
}

func formatSeconds(_ duration: Duration) -> String {
    String(format: "%.1f s", duration.seconds)
}
