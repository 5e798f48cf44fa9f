import ArgumentParser
import Dispatch
import Durable
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The lines of a batch file, and the file's identity.
struct RunBatch {
    struct Line: Sendable {
        /// From 1, counting blank lines.
        var number: Int
        var command: String
        /// How many lines with the same text come before this one: with the text,
        /// what identifies the line, wherever it moves in the file.
        var occurrence: Int
    }

    /// The file's absolute path (symbolic links resolved), or `stdin`.
    var identity: String
    var lines: [Line]

    /// The line numbers of each text, in file order.
    var lineNumbers: [String: [Int]] {
        Dictionary(grouping: lines, by: \.command).mapValues { $0.map(\.number) }
    }

    /// The idempotency key of a line's task: the batch, the occurrence and the text.
    func key(of line: Line) -> String { "\(identity):#\(line.occurrence):\(line.command)" }

    /// The key older builds gave a line's task: the batch, the line number and the text.
    func legacyKey(of line: Line) -> String { "\(identity):\(line.number):\(line.command)" }

    static func load(_ argument: String) throws -> RunBatch {
        if argument == "-" {
            return try RunBatch(
                identity: "stdin", label: "standard input", bytes: readAll(STDIN_FILENO, label: "standard input"))
        }
        let fd = open(argument, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandError("cannot read \(argument): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let bytes = try readAll(fd, label: argument)
        return try RunBatch(identity: absolutePath(argument), label: argument, bytes: bytes)
    }

    /// Splits `bytes` into lines. A line is run exactly as written, so one that a
    /// command cannot carry unchanged — a NUL byte, which ends a C string, or bytes
    /// that are not UTF-8, which a stored task cannot hold — refuses the whole
    /// batch, naming the line, before anything is stored or run.
    private init(identity: String, label: String, bytes: [UInt8]) throws {
        self.identity = identity
        var lines: [Line] = []
        var occurrences: [String: Int] = [:]
        for (offset, raw) in bytes.split(separator: 10, omittingEmptySubsequences: false).enumerated() {
            let number = offset + 1
            let content = raw.last == 13 ? raw.dropLast() : raw
            if let column = content.firstIndex(of: 0) {
                throw CommandError(
                    "line \(number) of \(label) holds a NUL byte (column \(column - content.startIndex + 1)), which no "
                        + "shell command can carry; nothing was stored or run")
            }
            guard let command = String(validating: content, as: UTF8.self) else {
                throw CommandError(
                    "line \(number) of \(label) is not valid UTF-8: durable run stores and runs each line's exact text "
                        + "as UTF-8 (convert the file, e.g. iconv -f latin1 -t utf-8); nothing was stored or run")
            }
            guard !command.allSatisfy(\.isWhitespace) else { continue }
            let occurrence = occurrences[command, default: 0]
            occurrences[command] = occurrence + 1
            lines.append(Line(number: number, command: command, occurrence: occurrence))
        }
        guard !lines.isEmpty else {
            throw CommandError(
                "\(label) has no commands: it is \(bytes.isEmpty ? "empty" : "only blank lines")")
        }
        self.lines = lines
    }

    private static func readAll(_ fd: Int32, label: String) throws -> [UInt8] {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                bytes.append(contentsOf: chunk[0..<count])
            } else if count == 0 {
                return bytes
            } else if errno != EINTR {
                throw CommandError("cannot read \(label): \(String(cString: strerror(errno)))")
            }
        }
    }

    /// The absolute path with symbolic links resolved: a batch file's identity.
    static func absolutePath(_ path: String) -> String {
        if let resolved = realpath(path, nil) {
            defer { free(resolved) }
            return String(cString: resolved)
        }
        if path.hasPrefix("/") { return path }
        return FileManager.default.currentDirectoryPath + "/" + path
    }
}
