import ArgumentParser
import Crypto
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

    /// How a batch is named in the database: its identity, in its queue's name
    /// (`run:<identity>`) and in its lines' keys. Processes running the same
    /// batch (on one machine or many) share its lines.
    enum Naming: Sendable, Equatable {
        /// The file's absolute path (symbolic links resolved), or `stdin`: the
        /// default on SQLite, whose database is on one machine.
        case path
        /// The file's name and a hash of its lines (`jobs.txt@3f2a…`; `stdin@…`):
        /// the default on PostgreSQL, the same on every machine that has a copy of
        /// the file, wherever it is. An edited file is another batch.
        case content
        /// `--batch NAME`: the name, whatever the file's path or content.
        case name(String)

        /// `--batch`'s name when given, else the default of `database`'s kind.
        static func choose(batch: String?, database: DatabaseOption) -> Naming {
            if let batch { return .name(batch) }
            return database.isPostgres ? .content : .path
        }
    }

    /// The batch's name in the database (see ``Naming``).
    var identity: String
    var lines: [Line]

    /// The line numbers of each text, in file order.
    var lineNumbers: [String: [Int]] {
        Dictionary(grouping: lines, by: \.command).mapValues { $0.map(\.number) }
    }

    /// The queue of the batch's lines: `run:<identity>`.
    var queue: String { Self.queue(of: identity) }

    /// The queue of the batch named `identity`.
    static func queue(of identity: String) -> String { "run:\(identity)" }

    /// The idempotency key of a line's task: the batch, the occurrence and the text.
    func key(of line: Line) -> String { "\(identity):#\(line.occurrence):\(line.command)" }

    /// The key older builds gave a line's task: the batch, the line number and the text.
    func legacyKey(of line: Line) -> String { "\(identity):\(line.number):\(line.command)" }

    static func load(_ argument: String, naming: Naming) throws -> RunBatch {
        if argument == "-" {
            var batch = try RunBatch(label: "standard input", bytes: readAll(STDIN_FILENO, label: "standard input"))
            batch.identity = batch.identity(under: naming, path: "stdin", name: "stdin")
            return batch
        }
        let fd = open(argument, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CommandError("cannot read \(argument): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var batch = try RunBatch(label: argument, bytes: try readAll(fd, label: argument))
        batch.identity = batch.identity(
            under: naming, path: absolutePath(argument), name: (argument as NSString).lastPathComponent)
        return batch
    }

    /// The identity `durable run FILE` gives the batch of `path` on `database`
    /// without `--batch`: how `--job FILE`, `--queue FILE` and `FILE:LINE` find its
    /// tasks.
    static func identity(ofFile path: String, on database: DatabaseOption) throws -> String {
        let naming = Naming.choose(batch: nil, database: database)
        guard naming == .content else { return absolutePath(path) }
        return try load(path, naming: naming).identity
    }

    /// The identity under `naming` of these lines, from the file at `path` (its
    /// file name `name`).
    private func identity(under naming: Naming, path: String, name: String) -> String {
        switch naming {
        case .path:
            return path
        case .name(let given):
            return given
        case .content:
            // The lines' text, not the file's bytes: a copy with other line ends
            // or blank lines is the same batch.
            let text = lines.map(\.command).joined(separator: "\n")
            let digest = SHA256.hash(data: Data(text.utf8)).prefix(8)
                .map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
            return "\(name)@\(digest)"
        }
    }

    /// Splits `bytes` into lines. A line is run exactly as written, so one that a
    /// command cannot carry unchanged — a NUL byte, which ends a C string, or bytes
    /// that are not UTF-8, which a stored task cannot hold — refuses the whole
    /// batch, naming the line, before anything is stored or run.
    private init(label: String, bytes: [UInt8]) throws {
        identity = ""
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
