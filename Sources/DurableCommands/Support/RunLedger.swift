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

/// What became of the lines: counts, progress, and printing their output, in
/// completion order or (with `--keep-order`) in file order.
final class RunLedger: Sendable {
    enum LineResult: Sendable {
        case succeeded(ShellOutcome)
        /// `reason`: "exit status 3", or the timeout; `outcome` when the command ended by itself.
        case failed(reason: String, outcome: ShellOutcome?)
        case cancelled(String)
        /// Deleted (`durable prune`) after it finished, before this run read how.
        case pruned
    }

    struct Counts {
        var succeeded = 0
        var failed = 0
        var cancelled = 0
        var pruned = 0
        var earlier = 0
        /// Finished during this run by another process running the same batch.
        var byOthers = 0
        var unfinished = 0
    }

    private struct Output {
        /// A line run here whose whole output (files of ``LineOutput``) goes out first.
        var replayLine: Int?
        var standardOutput: [UInt8]
        var standardError: [UInt8]
    }

    /// Who finished a line, which decides what of it is printed.
    enum Source {
        /// This process ran it: all of its output, unchanged.
        case here
        /// A run before this one: its stored tails, with `--replay`; else nothing.
        case earlier
        /// Another process running the same batch meanwhile: only a failure note.
        case others
    }

    private struct State {
        var recorded: [Bool]
        /// How each recorded line ended, for the joblog.
        var results: [Int: LineResult] = [:]
        var counts = Counts()
        var finishedNow = 0
        var failedNow = 0
        var buffered: [Int: Output] = [:]
        var nextToPrint = 0
        /// Set once the lines finished earlier are recorded.
        var progress: ProgressReporter?
        var toRun = 0
        var progressShown = false
    }

    private let lines: [RunBatch.Line]
    private let output: LineOutput
    private let replayEarlier: Bool
    private let keepOrder: Bool
    private let quiet: Bool
    private let liveProgress: Bool
    private let started: ContinuousClock.Instant
    private let state: Mutex<State>

    /// Progress appears once a run has lasted this long.
    private static let progressDelay: Duration = .seconds(2)

    init(
        lines: [RunBatch.Line], output: LineOutput, replayEarlier: Bool, keepOrder: Bool, quiet: Bool,
        started: ContinuousClock.Instant
    ) {
        self.lines = lines
        self.output = output
        self.replayEarlier = replayEarlier
        self.keepOrder = keepOrder
        self.quiet = quiet
        self.started = started
        liveProgress = isatty(STDERR_FILENO) == 1
        var initial = State(recorded: Array(repeating: false, count: lines.count))
        initial.counts.unfinished = lines.count
        state = Mutex(initial)
    }

    /// The lines with no outcome yet, in file order.
    var unrecordedIndices: [Int] {
        state.withLock { state in state.recorded.indices.filter { !state.recorded[$0] } }
    }

    /// How each line ended, by index (lines not finished are missing).
    var results: [Int: LineResult] { state.withLock { $0.results } }

    /// Whether line `index` has its outcome.
    func isRecorded(_ index: Int) -> Bool { state.withLock { $0.recorded[index] } }

    var counts: Counts { state.withLock { $0.counts } }

    /// Reads a finished task's outcome: `body` returns its result or throws its
    /// stored error. Errors of the database itself are thrown.
    static func lineResult(_ body: () async throws -> ShellOutcome) async throws -> LineResult {
        do {
            return .succeeded(try await body())
        } catch let error as StoredError {
            if error.type.hasSuffix("ShellCommandFailure"), let failure = ShellCommandFailure(parsing: error.message) {
                return .failed(reason: failure.outcome.ending, outcome: failure.outcome)
            }
            return .failed(reason: error.message, outcome: nil)
        } catch let error as TimeoutError {
            return .failed(reason: error.message, outcome: nil)
        } catch let error as CancelledError {
            return .cancelled(error.message ?? "cancelled")
        } catch let error as DurableError where error.code == .unknownTask {
            return .pruned
        }
    }

    /// Counts a finished line and prints its output (or buffers it, to keep file order).
    func record(index: Int, result: LineResult, source: Source) {
        let output = render(index: index, result: result, source: source)
        let earlier = source == .earlier
        let byOthers = source == .others
        let showProgress = ContinuousClock.now - started >= Self.progressDelay
        state.withLock { state in
            guard !state.recorded[index] else { return }
            state.recorded[index] = true
            state.results[index] = result
            state.counts.unfinished -= 1
            let failed: Bool
            switch result {
            case .succeeded:
                state.counts.succeeded += 1
                failed = false
            case .failed:
                state.counts.failed += 1
                failed = true
            case .cancelled:
                state.counts.cancelled += 1
                failed = false
            case .pruned:
                state.counts.pruned += 1
                failed = false
            }
            if earlier {
                state.counts.earlier += 1
            } else {
                if byOthers { state.counts.byOthers += 1 }
                state.finishedNow += 1
                if failed { state.failedNow += 1 }
            }
            if keepOrder {
                state.buffered[index] = output
                while state.nextToPrint < state.recorded.count, state.recorded[state.nextToPrint] {
                    if let next = state.buffered.removeValue(forKey: state.nextToPrint) { write(next, &state) }
                    state.nextToPrint += 1
                }
            } else {
                write(output, &state)
            }
            if showProgress { drawProgress(&state) }
        }
    }

    /// Counts progress from here on, out of `toRun` lines.
    func startProgress(toRun: Int) {
        state.withLock { state in
            state.toRun = toRun
            state.progress = ProgressReporter(label: "durable run", total: toRun, quiet: quiet)
        }
    }

    /// Redraws the progress line when it is time.
    func tick() {
        guard ContinuousClock.now - started >= Self.progressDelay else { return }
        state.withLock { state in
            if state.finishedNow < state.toRun { drawProgress(&state) }
        }
    }

    /// Prints what `--keep-order` still holds back (after an interrupt, the lines
    /// after one that did not finish), in file order.
    func flushRemaining() {
        state.withLock { state in
            for index in state.buffered.keys.sorted() {
                if let output = state.buffered.removeValue(forKey: index) { write(output, &state) }
            }
        }
    }

    /// A message on standard error, between output and progress.
    func note(_ message: String) {
        state.withLock { state in
            write(Output(standardOutput: [], standardError: Array((message + "\n").utf8)), &state)
        }
    }

    /// Ends the progress line and prints the summary.
    func finish(summary: String) {
        state.withLock { state in
            if let progress = state.progress {
                progress.finish(summary: summary)
            } else {
                writeAll(STDERR_FILENO, Array((summary + "\n").utf8))
            }
        }
    }

    /// Under the lock, so that a live progress line and output never mix.
    private func drawProgress(_ state: inout State) {
        guard !quiet, let progress = state.progress else { return }
        state.progressShown = true
        progress.update(done: state.finishedNow, failed: state.failedNow)
    }

    private func write(_ output: Output, _ state: inout State) {
        if liveProgress && state.progressShown && !quiet
            && !(output.standardOutput.isEmpty && output.standardError.isEmpty && output.replayLine == nil)
        {
            writeAll(STDERR_FILENO, Array("\r\u{1B}[K".utf8))
        }
        if let line = output.replayLine { self.output.replay(line: line) }
        writeAll(STDOUT_FILENO, output.standardOutput)
        writeAll(STDERR_FILENO, output.standardError)
    }

    private func render(index: Int, result: LineResult, source: Source) -> Output {
        let line = lines[index]
        if source == .earlier && !replayEarlier { return Output(standardOutput: [], standardError: []) }
        let command = Self.abbreviated(line.command, to: 120)
        var errorText = ""
        var outcome: ShellOutcome?
        switch result {
        case .succeeded(let succeeded):
            outcome = succeeded
        case .failed(let reason, let failed):
            outcome = failed
            errorText = "durable run: line \(line.number) failed (\(Self.oneLine(reason))): \(command)\n"
            if source == .earlier, let failed, !failed.stderrTail.isEmpty {
                let kept = failed.stderrTail.utf8.count
                if kept < failed.stderrBytes {
                    errorText += "[… \(failed.stderrBytes - kept) earlier bytes of standard error not kept]\n"
                }
                errorText += failed.stderrTail
                if !failed.stderrTail.hasSuffix("\n") { errorText += "\n" }
            }
        case .cancelled(let message):
            errorText = "durable run: line \(line.number) was cancelled (\(Self.oneLine(message))): \(command)\n"
        case .pruned:
            errorText =
                "durable run: line \(line.number) finished, but was pruned before this run read its result; a later "
                + "run runs it again: \(command)\n"
        }
        switch source {
        case .here:
            return Output(replayLine: line.number, standardOutput: [], standardError: Array(errorText.utf8))
        case .others:
            return Output(standardOutput: [], standardError: Array(errorText.utf8))
        case .earlier:
            if let outcome, outcome.stdoutTail.utf8.count < outcome.stdoutBytes {
                errorText +=
                    "durable run: line \(line.number) printed \(outcome.stdoutBytes) bytes; only the last "
                    + "\(outcome.stdoutTail.utf8.count) were kept\n"
            }
            return Output(
                standardOutput: Array((outcome?.stdoutTail ?? "").utf8), standardError: Array(errorText.utf8))
        }
    }

    static func abbreviated(_ text: String, to length: Int) -> String {
        text.count <= length ? text : text.prefix(length - 1) + "…"
    }

    private static func oneLine(_ text: String) -> String {
        text.split(separator: "\n").joined(separator: " ")
    }

    /// "3.2 s", or "00:02:05" from a minute on.
    static func describe(_ duration: Duration) -> String {
        let seconds = Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
        return seconds < 60 ? String(format: "%.1f s", seconds) : ProgressReporter.clock(seconds)
    }
}

/// Writes all of `bytes` to `fd`, retrying short writes; gives up on errors.
func writeAll(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
        let written = bytes[offset...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if written > 0 {
            offset += written
        } else if written < 0 && errno == EINTR {
            continue
        } else {
            return
        }
    }
}
