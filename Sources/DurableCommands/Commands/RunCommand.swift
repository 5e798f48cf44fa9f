import ArgumentParser
import Durable
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `durable run FILE`: every non-empty line of a file is a shell command, run as
/// a durable task; running the same command again resumes the batch.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run each line of a file as a shell command, durably: running it again resumes the batch.",
        discussion: """
            Each non-empty line of FILE (or of standard input, with -) runs with /bin/sh -c, in the current \
            directory, as a task stored in the database. A line runs exactly as written; a file with a line \
            that is not UTF-8 or holds a NUL byte is refused, naming the line, before anything is stored. A \
            line is known by its text and by how many lines with the same text come before it (the second \
            `make` is another line than the first), so inserting, deleting or moving lines re-runs nothing \
            that finished. Running the same command again after a crash, a kill or Ctrl-C runs \
            only what did not finish; lines that finished are printed from the database, not run again \
            (--retry-failed runs failed lines again). A line that changed is a new task. --retries and \
            --timeout apply to every line that has not succeeded, also to lines an earlier run created (a \
            note says how many changed).

            The output of the lines this run runs goes through unchanged, every byte of standard output and \
            standard error, one line's output at once as the line finishes (in file order with --keep-order; \
            as whole lines as they come with --line-buffer), held meanwhile in memory (a temporary file past \
            1 MiB; or kept in --results DIR); a failed line is named after its output. Lines finished earlier are only \
            counted (--replay prints their stored output); the database keeps the last --tail-size bytes of \
            each stream for inspection. Commands see DURABLE_LINE, DURABLE_ATTEMPT, DURABLE_TASK_ID, \
            DURABLE_RUNNER and DURABLE_DATABASE in their environment.

            Ctrl-C once: no new lines start; running ones finish. Twice (or SIGTERM, or SIGHUP): running lines \
            are stopped and run again next time. No line outlives durable run: if it is killed (even with \
            SIGKILL), a small guard process it started stops the lines' processes; and a line taken over from \
            a run that did not finish is started again only once that run's processes on this host are gone.

            A line pruned (durable prune) after it finished and before this run read its result is reported \
            as pruned; prune forgets, so a later run runs it again.

            Several durable run processes on one batch and one database share its lines: each line runs once, \
            in whichever process claims it. On SQLite a batch is the file's absolute path (standard input is \
            one batch, stdin). On PostgreSQL, where the processes may be on many machines, it is the file's \
            name and a hash of its lines (such as jobs.txt@3f2a9c0d1e2b4f67): every copy of the file, wherever \
            it is, is the same batch; an edited copy is another batch. --batch NAME names the batch instead, \
            on either store: give every process the same NAME (with the same file) to share the batch wherever \
            the file is, and to keep it across edits (lines are known by text and occurrence as above). A line \
            that a process's file does not have is cancelled when that process claims it, so every process of \
            a batch should run the same file.

            Every line is a task of the job durable.run in the batch's queue, run:BATCH: `durable queues` \
            lists batches with their counts, and pauses, resumes and limits one (`durable queues set \
            run:nightly --concurrency 4` holds across every process of the batch). `ls --queue FILE` (or \
            --job FILE), `show FILE:LINE` and `cancel --status pending --queue FILE` find the batch FILE makes \
            without --batch; with --batch, use `--queue run:NAME`.

            Exit status: 0 when every line succeeded, 1 when any failed, 2 when the batch could not start (a bad \
            file or database), 75 when the database could not be written for --store-timeout (a full disk, say), \
            128 + the signal (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP) when interrupted before every line \
            finished.
            """)

    @OptionGroup var database: DatabaseOption
    @OptionGroup var storeTimeout: StoreTimeoutOption

    @Argument(help: "The file of commands, one per line; - reads them from standard input.")
    var file: String

    @Option(
        help: ArgumentHelp(
            "Name the batch NAME in the database instead of by the file (SQLite: its path; PostgreSQL: its name "
                + "and content): processes given the same NAME share its lines, on any machine.",
            valueName: "name"))
    var batch: String?

    @Option(
        name: [.customShort("j"), .customLong("jobs")],
        help: ArgumentHelp("How many lines run at once.", valueName: "n"))
    var jobs: Int = max(1, ProcessInfo.processInfo.activeProcessorCount)

    @Option(
        help: ArgumentHelp(
            "Run a failing line up to N more times, after a short pause that grows each time.", valueName: "n"))
    var retries: Int = 0

    @Option(
        help: ArgumentHelp(
            "Stop a line that runs longer than this (per attempt), such as 90s, 500ms, 2m or 1h (at most 36500d); "
                + "it fails.",
            valueName: "duration"),
        transform: DurationArgument.duration)
    var timeout: Duration?

    @Flag(help: "Run the lines that failed (or were cancelled) in an earlier run again, instead of reporting them.")
    var retryFailed = false

    @Flag(help: "Print the lines' output in file order rather than as they finish.")
    var keepOrder = false

    @Flag(help: "Pass each line's output through as whole lines, as it comes, instead of each line's output at once.")
    var lineBuffer = false

    @Option(
        help: ArgumentHelp(
            "Also keep each line's whole output in DIR/line-<n>.stdout and DIR/line-<n>.stderr.", valueName: "dir"))
    var results: String?

    @Flag(help: "Print the stored output of lines that finished in earlier runs too (their last --tail-size bytes).")
    var replay = false

    @Option(help: ArgumentHelp("How many bytes of each stream of each line the database keeps.", valueName: "bytes"))
    var tailSize = 8192

    @Option(
        help: ArgumentHelp(
            "At the end, write one tab-separated row per line (line, status, exit, signal, seconds, attempts, "
                + "command) to FILE, as GNU parallel's --joblog.", valueName: "file"))
    var joblog: String?

    @Flag(help: "Print what a run would do — which lines are done, failed, pending or would run — and change nothing.")
    var dryRun = false

    @Flag(name: .shortAndLong, help: "No progress line; the summary is still printed.")
    var quiet = false

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("--jobs must be at least 1") }
        guard retries >= 0 else { throw ValidationError("--retries cannot be negative") }
        guard tailSize >= 0 else { throw ValidationError("--tail-size cannot be negative") }
        if lineBuffer && keepOrder { throw ValidationError("--line-buffer and --keep-order cannot go together") }
        if let timeout, timeout <= .zero { throw ValidationError("--timeout must be longer than zero") }
        if let batch, batch.isEmpty || batch.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw ValidationError("--batch must be a name on one line, without control characters")
        }
    }

    func run() async throws {
        let status: Int32
        do {
            status = try await runBatch()
        } catch let error as ExitCode {
            throw error
        } catch let error as DurableError where error.code == .storeUnavailable {
            throw StoreFailureStop.report(
                error, command: "durable run",
                resumes: "lines that finished without being stored run again, the others are not run twice")
        } catch {
            // One line naming the file or database; exit 2 tells "could not run"
            // apart from "some lines failed".
            writeAll(STDERR_FILENO, Array("Error: \(Self.oneLine(error))\n".utf8))
            throw ExitCode(2)
        }
        if status != 0 { throw ExitCode(status) }
    }

    private static func oneLine(_ error: any Error) -> String {
        String(describing: error).split(separator: "\n").joined(separator: " ")
    }

    /// Runs the batch; returns the exit status.
    private func runBatch() async throws -> Int32 {
        let started = ContinuousClock.now
        let batch = try RunBatch.load(file, naming: .choose(batch: self.batch, database: database))
        if batch.queue.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            throw CommandError(
                "the batch \(file) is named \(batch.identity.debugDescription), which holds control characters that "
                    + "a queue's name cannot; name it with --batch NAME")
        }
        if dryRun {
            try await DryRun.report(batch, database: database)
            return 0
        }
        let storeFailureTimeout = try storeTimeout.timeout()
        let databaseValue = try database.environmentValue()
        let engine = try await database.openEngine(
            configure: { configuration in
                configuration.maxConcurrentTasks = jobs
                configuration.queues = [batch.queue]
                configuration.storeFailureTimeout = storeFailureTimeout
            }, logLevel: .error)
        defer { try? engine.close() }
        let lineOutput = try LineOutput(mode: lineBuffer ? .lineBuffered : .grouped, results: results)
        defer { lineOutput.cleanUp() }
        let killGracePeriod = Duration.seconds(2)
        let runnerID = UUID().uuidString
        let runHere = LinesRunHere()
        engine.register(
            ShellCommand(
                batch: batch.identity, lineNumbers: batch.lineNumbers, tailLimit: tailSize,
                killGracePeriod: killGracePeriod, runnerID: runnerID, runHere: runHere, retries: retries,
                output: lineOutput, database: databaseValue))

        let options = TaskOptions(
            timeout: timeout,
            retry: retries > 0
                ? .exponentialJitter(maxAttempts: retries + 1, initialDelay: .milliseconds(500), maxDelay: .seconds(30))
                : nil)
        let tasks = try await BatchTasks.tasks(of: batch, options: options, on: engine)
        // This run's --timeout and --retries hold for every line not yet succeeded.
        let changed = try await engine.updateAttemptOptions(of: tasks.map(\.id), timeout: timeout, retry: options.retry)
        if changed > 0 {
            let note = "durable run: \(changed) line(s) from an earlier run now use this run's --timeout and --retries\n"
            writeAll(STDERR_FILENO, Array(note.utf8))
        }
        var indexByID: [TaskID: Int] = [:]
        for (index, task) in tasks.enumerated() { indexByID[task.id] = index }
        if retryFailed {
            // Failed and cancelled lines become pending again; others stay as they are.
            for start in stride(from: 0, to: tasks.count, by: 1000) {
                try await engine.retry(tasks[start..<min(start + 1000, tasks.count)].map(\.id))
            }
        }

        // Lines finished by an earlier run are counted (and with --replay printed
        // from the database) first, a chunk at a time.
        let ledger = RunLedger(
            lines: batch.lines, output: lineOutput, replayEarlier: replay, keepOrder: keepOrder, quiet: quiet,
            started: started)
        var pending: [DurableTask<ShellOutcome>] = []
        for start in stride(from: 0, to: tasks.count, by: 1000) {
            let chunk = Array(tasks[start..<min(start + 1000, tasks.count)])
            let (done, _) = try await engine.wait(chunk, timeout: .zero)
            let earlier = chunk.filter { done.contains($0) }
            pending += chunk.filter { !done.contains($0) }
            guard !earlier.isEmpty else { continue }
            for (task, result) in zip(earlier, try await engine.gatherResults(earlier)) {
                guard let index = indexByID[task.id] else { continue }
                ledger.record(
                    index: index, result: try await RunLedger.lineResult { try result.get() }, source: .earlier)
            }
        }
        ledger.startProgress(toRun: pending.count)

        let stopper = RunStopper(engine: engine)
        let signals = await StopSignals.handle(with: stopper) { ledger.note($0) }
        defer { signals.cancel() }

        if !pending.isEmpty {
            // Before any line starts: however this process ends, its lines end with it.
            _ = try LineGuard.start(runnerID: runnerID, gracePeriod: killGracePeriod)
            try await runWorker(
                engine: engine, pending: pending, indexByID: indexByID, ledger: ledger, stopper: stopper,
                runHere: runHere)
        }

        // After an interrupt: what finished but was not reported yet.
        let unreported = ledger.unrecordedIndices.map { tasks[$0] }
        if !unreported.isEmpty {
            do {
                for try await task in engine.asCompleted(unreported, timeout: .zero) {
                    guard let index = indexByID[task.id] else { continue }
                    ledger.record(
                        index: index, result: try await RunLedger.lineResult { try await task.result() },
                        source: runHere.contains(task.id) ? .here : .others)
                }
            } catch is TimeoutError {
            } catch let error as DurableError where error.code == .unknownTask {
                _ = try await Self.reportPruned(unreported, engine: engine, indexByID: indexByID, ledger: ledger)
            }
        }
        ledger.flushRemaining()
        if let joblog {
            var attempts: [Int: Int] = [:]
            let records = Dictionary(try await BatchTasks.storedTasks(of: batch, on: engine).map { ($0.id, $0) }) { first, _ in first }
            for (id, index) in indexByID { attempts[index] = records[id]?.attempt }
            try Joblog.write(to: joblog, lines: batch.lines, results: ledger.results, attempts: attempts)
        }

        let counts = ledger.counts
        let elapsed = RunLedger.describe(ContinuousClock.now - started)
        var summary = "durable run: "
        if counts.unfinished > 0 { summary += "interrupted: " }
        summary += "\(counts.succeeded) succeeded, \(counts.failed) failed"
        if counts.cancelled > 0 { summary += ", \(counts.cancelled) cancelled" }
        if counts.pruned > 0 { summary += ", \(counts.pruned) pruned before their result was read" }
        if counts.unfinished > 0 { summary += ", \(counts.unfinished) not finished" }
        var notes: [String] = []
        if counts.earlier > 0 { notes.append("\(counts.earlier) already done before this run") }
        if counts.byOthers > 0 { notes.append("\(counts.byOthers) run meanwhile by another durable run") }
        if !notes.isEmpty { summary += " (\(notes.joined(separator: "; ")))" }
        summary += " in \(elapsed)"
        if counts.unfinished > 0 { summary += "; run the same command again to finish" }
        ledger.finish(summary: summary)

        if counts.unfinished > 0 { return 128 + (stopper.interruptSignal ?? SIGINT) }
        return counts.failed + counts.cancelled > 0 ? 1 : 0
    }

    /// Records the unreported lines of `tasks` that no longer exist as pruned;
    /// returns the other unreported ones.
    private static func reportPruned(
        _ tasks: [DurableTask<ShellOutcome>], engine: TaskEngine, indexByID: [TaskID: Int], ledger: RunLedger
    ) async throws -> [DurableTask<ShellOutcome>] {
        var remaining: [DurableTask<ShellOutcome>] = []
        for task in tasks where indexByID[task.id].map({ !ledger.isRecorded($0) }) ?? false {
            do {
                _ = try await engine.record(of: task.id)
                remaining.append(task)
            } catch let error as DurableError where error.code == .unknownTask {
                if let index = indexByID[task.id] { ledger.record(index: index, result: .pruned, source: .others) }
            }
        }
        return remaining
    }


    /// Runs a worker until every pending line is reported or an interrupt has
    /// drained it.
    private func runWorker(
        engine: TaskEngine, pending: [DurableTask<ShellOutcome>], indexByID: [TaskID: Int], ledger: RunLedger,
        stopper: RunStopper, runHere: LinesRunHere
    ) async throws {
        guard !stopper.interrupted else { return }
        try await WorkerRun.run(engine: engine, stopper: stopper, tick: { ledger.tick() }) {
            var unreported = pending
            while !unreported.isEmpty {
                do {
                    for try await task in engine.asCompleted(unreported) {
                        guard let index = indexByID[task.id] else { continue }
                        ledger.record(
                        index: index, result: try await RunLedger.lineResult { try await task.result() },
                        source: runHere.contains(task.id) ? .here : .others)
                    }
                    return
                } catch let error as DurableError where error.code == .unknownTask {
                    // Lines pruned while this run ran: reported as such, the others awaited again.
                    unreported = try await Self.reportPruned(
                        unreported, engine: engine, indexByID: indexByID, ledger: ledger)
                }
            }
        }
    }
}
