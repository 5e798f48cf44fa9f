import Durable
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The job of `durable run`: one line of the batch file, run with `/bin/sh -c`.
///
/// Every batch's lines are tasks of this job (`durable.run`), each batch in a
/// queue of its own, `run:<batch>` (the batch being the file's absolute path or
/// `stdin`, on PostgreSQL its name and content hash, or `--batch`'s name:
/// ``RunBatch/Naming``). A `durable run` process serves only its batch's queue, so
/// it claims only the lines of its own batch; another batch's pending lines in the
/// same database are left for a run of that batch. `durable queues` lists,
/// pauses and limits batches as it does any queue. A line is its text and how many lines with the same text come before it
/// (the second `make` is another line than the first), so inserting, deleting or
/// moving lines re-runs nothing that finished. A claimed line that is no longer in
/// the batch (its text changed) is cancelled without running.
///
/// A line that exits with 0 succeeds with its ``ShellOutcome``; any other ending
/// throws ``ShellCommandFailure``, so the task's retry policy applies and the
/// task is stored as failed, with the exit status and the output tails in its
/// error message (``ShellCommandFailure/init(parsing:)`` reads them back).
struct ShellCommand: Job {
    /// One line of a batch. Its text and occurrence are also in the task's key
    /// (``RunBatch/key(of:)``), so a re-run of the same batch finds the same task
    /// wherever the line moved.
    struct Input: Codable, Sendable, Hashable {
        /// The batch (``RunBatch/identity``).
        var file: String
        /// The line number, for tasks of older builds, which knew a line by it;
        /// `nil` since (the number changes when lines move; ``currentLine(of:)``).
        var line: Int?
        /// The line's text.
        var command: String
        /// How many lines with the same text come before it; `nil` for tasks of
        /// older builds.
        var occurrence: Int?
    }

    typealias Output = ShellOutcome

    static let name = "durable.run"

    /// The batch this process runs.
    let batch: String
    /// Its lines' numbers, by text, in file order.
    let lineNumbers: [String: [Int]]
    /// How many bytes of each output stream are kept.
    let tailLimit: Int
    /// How long a stopped command has between SIGTERM and SIGKILL.
    let killGracePeriod: Duration
    /// This `durable run`'s id (``LineGuard``), in every line's `DURABLE_RUNNER`.
    let runnerID: String
    /// The lines this process started.
    let runHere: LinesRunHere
    /// `--retries`: a failed attempt with attempts left says that it will retry.
    let retries: Int
    /// Where each line's output goes.
    let output: LineOutput
    /// The database's absolute path, or its URL without the password (with the
    /// schema), in every line's `DURABLE_DATABASE`.
    let database: String

    func run(_ input: Input, context: TaskContext) async throws -> ShellOutcome {
        guard input.file == batch, let line = currentLine(of: input) else {
            throw CancelledError(
                taskID: context.taskID,
                message: "the line \"\(input.command)\" of \(input.file) is no longer in the file (it changed since "
                    + "this task was created); it is not part of the current run")
        }
        runHere.insert(context.taskID)
        if context.attempt > 1 { try await stopEarlierRuns(of: context.taskID, line: line) }
        let result = try await ShellProcess.run(
            input.command,
            environment: [
                "DURABLE_TASK_ID": "\(context.taskID)", "DURABLE_LINE": "\(line)",
                "DURABLE_ATTEMPT": "\(context.attempt)", "DURABLE_RUNNER": runnerID, "DURABLE_DATABASE": database,
            ],
            tailLimit: tailLimit, killGracePeriod: killGracePeriod, sinks: try output.sinks(forLine: line))
        let outcome = ShellOutcome(result)
        guard result.succeeded else {
            if context.attempt <= retries {
                let note = "durable run: line \(line) failed (\(outcome.ending)) on attempt \(context.attempt) of "
                    + "\(retries + 1); retrying\n"
                writeAll(STDERR_FILENO, Array(note.utf8))
            }
            throw ShellCommandFailure(outcome: outcome)
        }
        return outcome
    }
}

extension ShellCommand {
    /// A line taken over from a run that did not finish (its `durable run` was
    /// killed, say) may still have processes running on this host: they are
    /// stopped, and must be gone, before the line starts again, so that it never
    /// runs twice at the same time. (Processes on another host are not seen.)
    private func stopEarlierRuns(of task: TaskID, line: Int) async throws {
        let matches = ["DURABLE_TASK_ID": "\(task)", "DURABLE_DATABASE": database]
        let grace = killGracePeriod
        // Waiting blocks: on a thread of its own, off the cooperative pool.
        let (found, survivors) = await withCheckedContinuation { continuation in
            Thread { continuation.resume(returning: LineProcesses.stop(matches, gracePeriod: grace)) }.start()
        }
        guard survivors.isEmpty else {
            throw ShellProcess.LaunchError(
                description: "line \(line)'s earlier run is still running (processes \(survivors)) and could not be "
                    + "stopped; it was not started again")
        }
        if !found.isEmpty {
            FileHandle.standardError.write(
                Data("durable run: stopped line \(line)'s earlier run (processes \(found)) before running it again\n".utf8))
        }
    }
}

extension ShellCommand {
    /// Where the line of `input` is in the file now: its text's `occurrence`-th
    /// line (or, for a task of an older build, its line number, if its text is
    /// still there); `nil` when the file no longer has it.
    func currentLine(of input: Input) -> Int? {
        let numbers = lineNumbers[input.command] ?? []
        if let occurrence = input.occurrence { return occurrence < numbers.count ? numbers[occurrence] : nil }
        return input.line.flatMap { numbers.contains($0) ? $0 : nil }
    }
}

/// How one run of a line ended: the result of a succeeded task, and what a
/// failed one's error message carries.
struct ShellOutcome: Codable, Sendable, Hashable {
    /// The shell's exit status, when it exited.
    var exitCode: Int32?
    /// The signal that ended the shell, when one did.
    var signal: Int32?
    var durationMs: Int64
    /// The last bytes of standard output (invalid UTF-8 replaced).
    var stdoutTail: String
    /// The last bytes of standard error.
    var stderrTail: String
    /// How many bytes the command wrote to standard output in all.
    var stdoutBytes: Int
    /// How many bytes it wrote to standard error in all.
    var stderrBytes: Int

    init(
        exitCode: Int32?, signal: Int32?, durationMs: Int64, stdoutTail: String, stderrTail: String,
        stdoutBytes: Int, stderrBytes: Int
    ) {
        self.exitCode = exitCode
        self.signal = signal
        self.durationMs = durationMs
        self.stdoutTail = stdoutTail
        self.stderrTail = stderrTail
        self.stdoutBytes = stdoutBytes
        self.stderrBytes = stderrBytes
    }

    init(_ result: ShellProcess.Result) {
        let components = result.duration.components
        self.init(
            exitCode: result.exitCode, signal: result.signal,
            durationMs: components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000,
            stdoutTail: result.standardOutput.text, stderrTail: result.standardError.text,
            stdoutBytes: result.standardOutput.totalBytes, stderrBytes: result.standardError.totalBytes)
    }

    /// "exit status 3", "killed by signal 9 (SIGKILL)".
    var ending: String {
        if let exitCode { return "exit status \(exitCode)" }
        if let signal { return "killed by signal \(signal)\(Self.signalName(signal).map { " (\($0))" } ?? "")" }
        return "ended without a known status"
    }

    /// "exit status 3 after 0.212 s".
    var summary: String {
        "\(ending) after \(String(format: "%.3f", Double(durationMs) / 1000)) s"
    }

    private static func signalName(_ signal: Int32) -> String? {
        switch signal {
        case SIGHUP: "SIGHUP"
        case SIGINT: "SIGINT"
        case SIGQUIT: "SIGQUIT"
        case SIGILL: "SIGILL"
        case SIGABRT: "SIGABRT"
        case SIGBUS: "SIGBUS"
        case SIGFPE: "SIGFPE"
        case SIGKILL: "SIGKILL"
        case SIGSEGV: "SIGSEGV"
        case SIGPIPE: "SIGPIPE"
        case SIGALRM: "SIGALRM"
        case SIGTERM: "SIGTERM"
        case SIGUSR1: "SIGUSR1"
        case SIGUSR2: "SIGUSR2"
        default: nil
        }
    }
}

/// A line that did not exit with 0. Its description is what the task's stored
/// error message holds, readable in `sqlite3` and parsed back by
/// ``init(parsing:)``:
///
///     exit status 3 after 0.212 s
///     --- stderr: 27 bytes ---
///     grep: input.txt: not found
///     --- stdout: last 8192 of 20480 bytes ---
///     …
///
/// Each section header gives the byte length (UTF-8) of the text that follows it.
struct ShellCommandFailure: Error, CustomStringConvertible {
    var outcome: ShellOutcome

    init(outcome: ShellOutcome) {
        self.outcome = outcome
    }

    var description: String {
        var text = outcome.summary
        for (name, tail, total) in [
            ("stderr", outcome.stderrTail, outcome.stderrBytes), ("stdout", outcome.stdoutTail, outcome.stdoutBytes),
        ] where !tail.isEmpty {
            let length = tail.utf8.count
            let size = length < total ? "last \(length) of \(total) bytes" : "\(length) bytes"
            text += "\n--- \(name): \(size) ---\n\(tail)"
        }
        return text
    }

    /// Reads a stored error message written by ``description``; `nil` when the
    /// message has another shape.
    init?(parsing message: String) {
        var rest = Substring(message).utf8[...]
        let firstLine = rest.prefix { $0 != UInt8(ascii: "\n") }
        rest = rest.dropFirst(firstLine.count)
        guard let parsed = Self.parseSummary(String(decoding: firstLine, as: UTF8.self)) else { return nil }
        var outcome = ShellOutcome(
            exitCode: parsed.exitCode, signal: parsed.signal, durationMs: parsed.durationMs, stdoutTail: "",
            stderrTail: "", stdoutBytes: 0, stderrBytes: 0)
        while !rest.isEmpty {
            guard rest.first == UInt8(ascii: "\n") else { return nil }
            rest = rest.dropFirst()
            let headerBytes = rest.prefix { $0 != UInt8(ascii: "\n") }
            rest = rest.dropFirst(headerBytes.count + 1)
            guard let section = Self.parseHeader(String(decoding: headerBytes, as: UTF8.self)),
                rest.count >= section.length
            else { return nil }
            let body = rest.prefix(section.length)
            rest = rest.dropFirst(section.length)
            let text = String(decoding: body, as: UTF8.self)
            switch section.name {
            case "stdout":
                outcome.stdoutTail = text
                outcome.stdoutBytes = section.total
            case "stderr":
                outcome.stderrTail = text
                outcome.stderrBytes = section.total
            default:
                return nil
            }
        }
        self.outcome = outcome
    }

    private static func parseSummary(_ line: String) -> (exitCode: Int32?, signal: Int32?, durationMs: Int64)? {
        guard let range = line.range(of: " after ", options: .backwards), line.hasSuffix(" s"),
            let seconds = Double(line[range.upperBound...].dropLast(2))
        else { return nil }
        let ending = line[..<range.lowerBound]
        let durationMs = Int64((seconds * 1000).rounded())
        if ending.hasPrefix("exit status "), let code = Int32(ending.dropFirst("exit status ".count)) {
            return (code, nil, durationMs)
        }
        if ending.hasPrefix("killed by signal "),
            let signal = Int32(ending.dropFirst("killed by signal ".count).prefix { $0.isNumber })
        {
            return (nil, signal, durationMs)
        }
        if ending == "ended without a known status" { return (nil, nil, durationMs) }
        return nil
    }

    /// "--- stderr: 27 bytes ---" or "--- stdout: last 8192 of 20480 bytes ---".
    private static func parseHeader(_ header: String) -> (name: String, length: Int, total: Int)? {
        guard header.hasPrefix("--- "), header.hasSuffix(" bytes ---") else { return nil }
        let inner = header.dropFirst(4).dropLast(" bytes ---".count)
        guard let colon = inner.firstIndex(of: ":") else { return nil }
        let name = String(inner[..<colon])
        let size = inner[inner.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        if size.hasPrefix("last ") {
            let numbers = size.dropFirst(5).components(separatedBy: " of ")
            guard numbers.count == 2, let length = Int(numbers[0]), let total = Int(numbers[1]) else { return nil }
            return (name, length, total)
        }
        guard let length = Int(size) else { return nil }
        return (name, length, length)
    }
}
