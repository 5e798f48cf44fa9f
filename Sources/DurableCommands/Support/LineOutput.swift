import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Where the output of the lines `durable run` runs goes: every byte, unchanged.
///
/// Each attempt of a line keeps its standard output and error in memory, spilled
/// to a file of its own past 1 MiB — or in `--results DIR` (`line-<n>.stdout`,
/// `line-<n>.stderr`, kept). When the line is reported, the ledger copies them
/// to this process's standard output and error, one line's output after the
/// other (grouped, as GNU parallel does). With `--line-buffer`, whole lines go
/// through as they come instead (lines of different commands may interleave,
/// never mix within a line). Creating two files per line costs more than most
/// lines' own work, so files appear only for large output or `--results`.
final class LineOutput: Sendable {
    enum Mode: Sendable {
        case grouped
        case lineBuffered
    }

    let mode: Mode
    /// `--results DIR`, or a temporary folder for spilled output.
    private let directory: String
    private let keepsFiles: Bool
    /// The sinks of each line's latest attempt, until reported.
    private let current = Mutex<[Int: ShellProcess.Sinks]>([:])

    /// - Parameter results: `--results DIR` (created if missing), or `nil` for a
    ///   temporary folder (created when first needed).
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
            directory = FileManager.default.temporaryDirectory.path + "/durable-run-\(getpid())-\(UUID().uuidString)"
            keepsFiles = false
        }
    }

    /// Where one attempt of line `number` writes (replacing an earlier attempt's).
    func sinks(forLine number: Int) throws -> ShellProcess.Sinks {
        let base = "\(directory)/line-\(number)"
        let passthrough = mode == .lineBuffered
        let sinks = ShellProcess.Sinks(
            standardOutput: try OutputSink(
                file: base + ".stdout", eager: keepsFiles, passthrough: passthrough ? STDOUT_FILENO : nil),
            standardError: try OutputSink(
                file: base + ".stderr", eager: keepsFiles, passthrough: passthrough ? STDERR_FILENO : nil))
        current.withLock { $0[number] = sinks }
        return sinks
    }

    /// Copies line `number`'s output to this process's standard output and error
    /// (grouped mode; in line-buffered mode it went through already).
    func replay(line number: Int) {
        guard let sinks = current.withLock({ $0.removeValue(forKey: number) }) else { return }
        if mode == .grouped {
            sinks.standardOutput.copy(to: STDOUT_FILENO)
            sinks.standardError.copy(to: STDERR_FILENO)
        }
        if !keepsFiles {
            sinks.standardOutput.removeFile()
            sinks.standardError.removeFile()
        }
    }

    /// Removes the temporary folder (`--results` stays).
    func cleanUp() {
        guard !keepsFiles else { return }
        try? FileManager.default.removeItem(atPath: directory)
    }
}

/// One stream of one attempt: every byte kept (in memory, in a file past
/// ``spillSize`` or from the start when `eager`), and with `passthrough`, each
/// complete line written to that descriptor as it comes (the rest at `finish`).
final class OutputSink: Sendable {
    static let spillSize = 1 << 20

    private struct State {
        var buffer: [UInt8] = []
        var fd: Int32 = -1
        var partial: [UInt8] = []
    }

    private let path: String
    private let passthrough: Int32?
    private let state = Mutex(State())

    init(file path: String, eager: Bool, passthrough: Int32?) throws {
        self.path = path
        self.passthrough = passthrough
        if eager { try state.withLock { try Self.open(path, into: &$0) } }
    }

    deinit { state.withLock { if $0.fd >= 0 { close($0.fd) } } }

    private static func open(_ path: String, into state: inout State) throws {
        let folder = (path as NSString).deletingLastPathComponent
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let fd = Glibc.open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw CommandError("cannot write \(path): \(String(cString: strerror(errno)))") }
        writeAll(fd, state.buffer)
        state.buffer = []
        state.fd = fd
    }

    func write(_ bytes: UnsafeRawBufferPointer) {
        let lines = state.withLock { state -> [UInt8]? in
            if state.fd >= 0 {
                writeAll(state.fd, Array(bytes))
            } else {
                state.buffer.append(contentsOf: bytes)
                // Past the limit, the bytes go to a file; if it cannot be made,
                // they stay in memory.
                if state.buffer.count > Self.spillSize { try? Self.open(path, into: &state) }
            }
            guard passthrough != nil else { return nil }
            state.partial.append(contentsOf: bytes)
            guard let end = state.partial.lastIndex(of: 10) else { return nil }
            defer { state.partial.removeSubrange(...end) }
            return Array(state.partial[...end])
        }
        if let lines, let passthrough { writeAll(passthrough, lines) }
    }

    /// Passes on what is left of an unfinished last line.
    func finish() {
        guard let passthrough else { return }
        let rest = state.withLock { state in
            defer { state.partial = [] }
            return state.partial
        }
        if !rest.isEmpty { writeAll(passthrough, rest) }
    }

    /// Copies every byte kept to `target`.
    func copy(to target: Int32) {
        let (buffer, spilled) = state.withLock { ($0.buffer, $0.fd >= 0) }
        guard spilled else {
            writeAll(target, buffer)
            return
        }
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
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

    /// Removes the file, if the bytes went to one.
    func removeFile() {
        let spilled = state.withLock { $0.fd >= 0 }
        if spilled { try? FileManager.default.removeItem(atPath: path) }
    }
}
