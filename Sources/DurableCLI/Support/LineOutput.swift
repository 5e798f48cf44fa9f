import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the output of the lines `durable run` runs goes: every byte, unchanged.
///
/// Each attempt of a line writes its standard output and error to files of its
/// own — in `--results DIR` (`line-<n>.stdout`, `line-<n>.stderr`, kept), or in a
/// temporary folder removed at the end. When the line is reported, the ledger
/// copies them to this process's standard output and error, one line's output
/// after the other (grouped, as GNU parallel does). With `--line-buffer`, whole
/// lines go through as they come instead (lines of different commands may
/// interleave, never mix within a line).
final class LineOutput: Sendable {
    enum Mode: Sendable {
        case grouped
        case lineBuffered
    }

    let mode: Mode
    private let directory: String
    private let keepsFiles: Bool

    /// - Parameter results: `--results DIR` (created if missing), or `nil` for a
    ///   temporary folder.
    init(mode: Mode, results: String?) throws {
        self.mode = mode
        if let results {
            do {
                try FileManager.default.createDirectory(atPath: results, withIntermediateDirectories: true)
            } catch {
                throw CommandError("cannot create --results \(results): \(error.localizedDescription)")
            }
            directory = results
            keepsFiles = true
        } else {
            let template = FileManager.default.temporaryDirectory.path + "/durable-run-XXXXXX"
            var bytes = Array(template.utf8CString)
            guard let made = mkdtemp(&bytes) else {
                throw CommandError("cannot create a temporary folder: \(String(cString: strerror(errno)))")
            }
            directory = String(cString: made)
            keepsFiles = false
        }
    }

    /// The files of line `number`'s output.
    func files(ofLine number: Int) -> (standardOutput: String, standardError: String) {
        ("\(directory)/line-\(number).stdout", "\(directory)/line-\(number).stderr")
    }

    /// Where one attempt of line `number` writes (its files start empty).
    func sinks(forLine number: Int) throws -> ShellProcess.Sinks {
        let (output, error) = files(ofLine: number)
        let passthrough = mode == .lineBuffered
        return ShellProcess.Sinks(
            standardOutput: try OutputSink(file: output, passthrough: passthrough ? STDOUT_FILENO : nil),
            standardError: try OutputSink(file: error, passthrough: passthrough ? STDERR_FILENO : nil))
    }

    /// Copies line `number`'s output to this process's standard output and error
    /// (grouped mode; in line-buffered mode it went through already).
    func replay(line number: Int) {
        guard mode == .grouped else { return }
        let (output, error) = files(ofLine: number)
        copy(output, to: STDOUT_FILENO)
        copy(error, to: STDERR_FILENO)
    }

    /// Removes the temporary folder (`--results` stays).
    func cleanUp() {
        guard !keepsFiles else { return }
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func copy(_ path: String, to target: Int32) {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        defer { close(fd) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count > 0 {
                writeAll(target, Array(chunk[0..<count]))
            } else if count < 0 && errno == EINTR {
                continue
            } else {
                return
            }
        }
    }
}

/// One stream of one attempt: every byte to a file, and with `passthrough`,
/// each complete line to that descriptor as it comes (the rest at `finish`).
final class OutputSink: Sendable {
    private let fd: Int32
    private let passthrough: Int32?
    private let partial = Mutex<[UInt8]>([])

    init(file: String, passthrough: Int32?) throws {
        fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CommandError("cannot write \(file): \(String(cString: strerror(errno)))") }
        self.passthrough = passthrough
    }

    deinit { close(fd) }

    func write(_ bytes: UnsafeRawBufferPointer) {
        writeAll(fd, Array(bytes))
        guard let passthrough else { return }
        let lines = partial.withLock { partial -> [UInt8]? in
            partial.append(contentsOf: bytes)
            guard let end = partial.lastIndex(of: 10) else { return nil }
            defer { partial.removeSubrange(...end) }
            return Array(partial[...end])
        }
        if let lines { writeAll(passthrough, lines) }
    }

    /// Passes on what is left of an unfinished last line.
    func finish() {
        guard let passthrough else { return }
        let rest = partial.withLock { partial in
            defer { partial = [] }
            return partial
        }
        if !rest.isEmpty { writeAll(passthrough, rest) }
    }
}
