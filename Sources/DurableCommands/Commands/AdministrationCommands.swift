import ArgumentParser
import UnixSignals
import Durable
import DurableDashboard
import Foundation

/// `durable stats`: counts by status and job, and throughput.
struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count tasks by job and status, and show how many finished in the last minute and hour.",
        discussion: """
            Same as: sqlite3 durable.sqlite 'select * from durable_queue_stats' (PostgreSQL: psql URL -c 'select * from \
            durable.queue_stats').
            """)

    @OptionGroup var database: DatabaseOption
    @Flag(name: .long, help: "One JSON object per line: one per job, then the totals.") var json = false

    func run() async throws {
        let engine = try await openForReading(database)
        defer { try? engine.close() }
        let statistics = try await engine.statistics()
        let jobs = statistics.counts.sorted(by: { $0.key < $1.key })
        if json {
            for (job, counts) in jobs {
                var object: [String: Any] = ["job": job]
                for (column, count) in statusColumns(counts, abandoned: statistics.abandoned[job] ?? 0) {
                    object[column] = count
                }
                print(Formatting.jsonLine(object))
            }
            var totals: [String: Any] = [
                "job": NSNull(), "finished_last_minute": statistics.finishedLastMinute,
                "finished_last_hour": statistics.finishedLastHour,
                "finished_per_second_last_minute": statistics.lastMinuteRate.map { $0 as Any } ?? NSNull(),
                "oldest_due_wait_ms": oldestDueWait(statistics, engine).map { $0 as Any } ?? NSNull(),
            ]
            for (column, count) in statusColumns(statistics.totals, abandoned: statistics.abandonedTotal) {
                totals[column] = count
            }
            print(Formatting.jsonLine(totals))
            return
        }
        let names = statusColumns([:], abandoned: 0).map(\.name)
        var table = TextTable(columns: ["job"] + names + ["total"])
        for (job, counts) in jobs {
            let row = statusColumns(counts, abandoned: statistics.abandoned[job] ?? 0).map { "\($0.count)" }
            table.add([job] + row + ["\(counts.values.reduce(0, +))"])
        }
        let totals = statistics.totals
        let row = statusColumns(totals, abandoned: statistics.abandonedTotal).map { "\($0.count)" }
        table.add(["(all)"] + row + ["\(totals.values.reduce(0, +))"])
        print(table.rendered(), terminator: "")
        let rate = statistics.lastMinuteRate.map { String(format: " (%.1f/s while they finished)", $0) } ?? ""
        print(
            "finished in the last minute: \(statistics.finishedLastMinute)\(rate), "
                + "last hour: \(statistics.finishedLastHour)")
        if let wait = oldestDueWait(statistics, engine) {
            print("the longest-waiting due task has waited \(Formatting.duration(wait))")
        }
    }

    /// How long the longest-waiting due task has waited, in milliseconds.
    private func oldestDueWait(_ statistics: QueueStatistics, _ engine: TaskEngine) -> Int64? {
        statistics.oldestDueTime.map { max(0, engine.configuration.clock.now() - $0) }
    }
}

/// Counts by status as the commands show them, in order: `running` counts live
/// runs only, and the abandoned ones (``AbandonedRun``) follow in a column of their
/// own, so the columns add up to the total (as in the `durable_queue_stats` view).
func statusColumns(_ counts: [TaskStatus: Int], abandoned: Int) -> [(name: String, count: Int)] {
    TaskStatus.allCases.flatMap { status -> [(name: String, count: Int)] in
        let count = counts[status, default: 0]
        guard status == .running else { return [(status.rawValue, count)] }
        return [(status.rawValue, max(0, count - abandoned)), ("abandoned", abandoned)]
    }
}

/// `durable watch`: live counts until nothing is pending or running.
struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show live task counts until nothing is pending or running.",
        discussion: """
            Tasks left running by a worker that is gone (abandoned) do not keep it waiting: once nothing else \
            is pending or running it names them and exits with status 1. Starting a worker on the file \
            recovers them.
            """)

    @OptionGroup var database: DatabaseOption
    @Option(name: .long, help: "How often to look (e.g. 500ms, 2s; at most 36500d).") var interval = "1s"

    func run() async throws {
        let every = try DurationArgument(parsing: interval, option: "--interval").duration
        guard every > .zero else {
            throw CommandError("--interval: \"\(interval)\" is zero; watch needs a pause between looks (e.g. 500ms)")
        }
        let engine = try await openForReading(database)
        defer { try? engine.close() }
        let live = isatty(STDOUT_FILENO) == 1
        // Ctrl-C, SIGTERM or SIGHUP end the watch cleanly: the file is closed, no -wal or -shm stays.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm, .sighup)
        let ending = try await withThrowingTaskGroup(of: WatchEnding.self) { group in
            group.addTask { try await Self.watch(engine, every: every, live: live) }
            group.addTask {
                for await signal in signals { return .signal(signal.rawValue) }
                return .signal(SIGINT)
            }
            defer { group.cancelAll() }
            return try await group.next() ?? .done
        }
        if live { print("") }
        switch ending {
        case .done:
            return
        case .abandoned:
            writeAll(STDERR_FILENO, Array("Error: \(try await abandonedError(engine))\n".utf8))
            throw ExitCode(1)
        case .signal(let number):
            throw ExitCode(128 + number)
        }
    }

    private enum WatchEnding: Sendable {
        case done, abandoned
        case signal(Int32)
    }

    /// Prints the counts every `every` until nothing is pending or running.
    private static func watch(_ engine: TaskEngine, every: Duration, live: Bool) async throws -> WatchEnding {
        while true {
            let statistics = try await engine.statistics()
            let counts = statusColumns(statistics.totals, abandoned: statistics.abandonedTotal)
                .filter { $0.name != "abandoned" || $0.count > 0 }
            let line = counts.map { "\($0.name) \($0.count)" }.joined(separator: ", ")
                + ", \(statistics.finishedLastMinute) finished in the last minute"
            FileHandle.standardOutput.write(Data((live ? "\r\u{1B}[K" + line : line + "\n").utf8))
            if statistics.totals[.pending, default: 0] + statistics.liveRunning == 0 {
                return statistics.abandonedTotal == 0 ? .done : .abandoned
            }
            try await Task.sleep(for: every)
        }
    }

    /// Names the abandoned runs and how to recover them.
    private func abandonedError(_ engine: TaskEngine) async throws -> String {
        let runs = try await engine.abandonedRuns()
        let list = runs.prefix(10).map { "task \($0.taskID) (\(Formatting.abandonment($0)))" }.joined(separator: ", ")
        let more = runs.count > 10 ? " and \(runs.count - 10) more" : ""
        return "nothing is pending or running, but \(list)\(more) \(runs.count == 1 ? "is" : "are") still stored as "
            + "running with nobody running \(runs.count == 1 ? "it" : "them"); "
            + "start a worker on \(database.location) to recover \(runs.count == 1 ? "it" : "them")"
    }
}

/// `durable cancel`: cancel tasks by id, or every pending one.
struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Cancel tasks: pending ones never start, running ones are cancelled wherever they run.")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "Task ids, or FILE:LINE for the task of a line of a durable run batch.")
    var ids: [TaskReference] = []
    @Option(name: .long, help: "Cancel every task with this status (only 'pending').") var status: String?
    @Option(name: .long, help: "With --status: only tasks of this job (or of this durable run batch file).")
    var job: String?
    @Option(name: .long, help: "With --status: only tasks of this queue (or of this durable run batch file).")
    var queue: String?
    @Option(name: .long, help: "The cancel message stored with the tasks.") var message = "cancelled with durable cancel"

    func validate() throws {
        guard ids.isEmpty != (status == nil) else { throw ValidationError("give task ids or --status pending") }
        if let status, status != "pending" { throw ValidationError("--status takes only 'pending'") }
    }

    func run() async throws {
        let engine = try await openExisting(database)
        defer { try? engine.close() }
        if status != nil {
            let selection = try database.taskSelection(job: job, queue: queue)
            let count = try await engine.cancelPendingTasks(
                job: selection.job, queue: selection.queue, message: message)
            print("cancelled \(count) pending task(s)")
            return
        }
        var unknown: [String] = []
        for reference in ids {
            let id = try await reference.resolve(in: engine, database: database)
            do {
                let record = try await engine.record(of: id)
                let cancelled = try await engine.cancel(id, message: message)
                let what =
                    cancelled
                    ? (record.status == .running ? "cancel requested (running)" : "cancelled")
                    : "already finished (\(record.status))"
                print("\(reference): \(what)")
            } catch let error as DurableError where error.code == .unknownTask {
                unknown.append("\(reference)")
            }
        }
        if !unknown.isEmpty {
            throw CommandError("no task has id \(unknown.joined(separator: ", ")) in \(database.location)")
        }
    }
}

/// `durable retry`: run failed or cancelled tasks again.
struct Retry: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run failed or cancelled tasks again (stored steps are kept; failed steps run again).")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "Task ids, or FILE:LINE for the task of a line of a durable run batch.")
    var ids: [TaskReference] = []
    @Flag(name: .long, help: "Retry every failed task.") var failed = false

    func validate() throws {
        guard ids.isEmpty != !failed else { throw ValidationError("give task ids or --failed") }
    }

    func run() async throws {
        let engine = try await openExisting(database)
        defer { try? engine.close() }
        if failed {
            print("\(try await engine.retryFailedTasks()) failed task(s) are pending again")
            return
        }
        var resolved: [(reference: TaskReference, id: TaskID)] = []
        for reference in ids {
            resolved.append((reference, try await reference.resolve(in: engine, database: database)))
        }
        var unknown: [String] = []
        for entry in resolved where (try? await engine.record(of: entry.id)) == nil {
            unknown.append("\(entry.reference)")
        }
        if !unknown.isEmpty {
            throw CommandError("no task has id \(unknown.joined(separator: ", ")) in \(database.location)")
        }
        let reset = Set(try await engine.retry(resolved.map(\.id)))
        for entry in resolved {
            let what = reset.contains(entry.id) ? "pending again" : "not failed or cancelled; left as it is"
            print("\(entry.reference): \(what)")
        }
    }
}

/// `durable prune`: delete old finished tasks.
struct Prune: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Delete finished tasks older than a duration, in short batches that never lock out workers for long.")

    @OptionGroup var database: DatabaseOption
    @Option(name: .long, help: "Delete tasks finished more than this long ago (e.g. 7d, 12h; at most 36500d).")
    var finishedBefore: String
    @Option(name: .long, help: "Only this status (succeeded, failed, cancelled); repeatable.") var status: [String] = []

    func run() async throws {
        let age = try DurationArgument(parsing: finishedBefore, option: "--finished-before")
        let statuses = try Set(status.map(parseStatus))
        if let open = statuses.first(where: { !$0.isTerminal }) {
            throw CommandError("--status \(open) is not a finished status (use succeeded, failed or cancelled)")
        }
        let engine = try await openExisting(database)
        defer { try? engine.close() }
        let deleted = try await engine.prune(finishedBefore: age.dateAgo, statuses: statuses)
        print("deleted \(deleted) finished task(s)")
    }
}
