import Durable
import DurableTestKit
import Foundation

/// Several processes open one fresh database (an SQLite file, or a PostgreSQL schema
/// none of them has made yet) at the same moment, then each, for a bounded
/// time, submits tasks (batches and single ones, with keys; also other processes' keys,
/// so creation races across processes), runs a worker, and waits on its own and
/// others' tasks with `wait`, `gather`, `asCompleted` and `waitFor`; at the end each
/// waits for everything it knows. Checked:
///
/// - every process exits 0: no error was thrown to it, no waiter hung (each wait is
///   bounded by a hang limit), every result it got was right;
/// - on SQLite, no "locked" or "busy" appears in any process's output (errors or log
///   lines); on PostgreSQL, where waiting for a lock is not an error, no process logged
///   at level error or critical;
/// - every task succeeded once, with its result; keys are unique;
/// - no task was claimed twice at once: per task, the executions (logged with
///   CLOCK_MONOTONIC start and end by the job) never overlap, each attempt number runs
///   once, and the stored attempts match the executions;
/// - the rows are consistent (``ScenarioDatabase/soundness(_:thorough:)``: on SQLite
///   also `PRAGMA integrity_check`).
enum ShareScenario {
    static func run(_ context: ScenarioContext) async throws -> Findings {
        let settings = context.settings
        var rng = context.rng
        let folder = context.folder
        var findings = Findings()
        let database = context.database("shared.sqlite")
        let log = folder.file("executions.log")
        let seed = UInt64.random(in: 1...UInt64(Int.max), using: &rng)

        var children: [Child] = []
        for index in 0..<settings.processes {
            children.append(
                try Child(
                    "process-\(index)",
                    [
                        "share", database.workerAddress, "--index", "\(index)", "--processes", "\(settings.processes)",
                        "--seconds", "\(settings.shareSeconds)", "--log", log, "--seed", "\(seed)",
                        "--concurrency", "4", "--hang-limit", "\(settings.hangLimit)",
                    ], output: folder.file("process-\(index).out")))
        }
        var summaries: [String] = []
        let limit = Duration.milliseconds(Int((settings.shareSeconds + settings.hangLimit * 2 + 60) * 1000))
        for child in children {
            let text: String
            if let ended = try await child.exit(within: limit) {
                text = child.fullOutput
                findings.expect(
                    ended.status == 0 && !ended.signalled,
                    "\(child.label) ended with \(ended.signalled ? "signal" : "status") \(ended.status): "
                        + child.output(last: 1500))
            } else {
                text = child.fullOutput
                findings.fail("\(child.label) hung: killed after \(limit); output: \(child.output(last: 1500))")
            }
            if database.isPostgres {
                let errors = text.split(separator: "\n").filter(isErrorLine)
                if !errors.isEmpty {
                    findings.fail("\(child.label) reported \(errors.count) error(s): \(errors.prefix(3).joined(separator: " | "))")
                }
            } else if text.lowercased().contains("locked") || text.lowercased().contains("busy") {
                let quoted = text.split(separator: "\n").filter {
                    $0.lowercased().contains("locked") || $0.lowercased().contains("busy")
                }
                findings.fail("\(child.label) reported lock contention: \(quoted.prefix(3).joined(separator: " | "))")
            }
            if let summary = text.split(separator: "\n").last(where: { $0.hasPrefix("SHARE ") }) {
                summaries.append(String(summary))
            }
        }

        return try await withProbe(database.address) { probe in
            try await database.waitForWorkerSessions(probe)
            return try await check(probe, database, settings: settings, log: log, summaries: summaries, findings: findings)
        }
    }

    /// Whether `line` of a process's output is an error: "ERROR ..." (the harness's
    /// report of an error thrown to it) or a log line at level error or critical.
    static func isErrorLine(_ line: Substring) -> Bool {
        let fields = line.split(separator: " ", maxSplits: 2)
        return line.hasPrefix("ERROR ") || (fields.count > 1 && (fields[1] == "error" || fields[1] == "critical"))
    }

    /// The checks of the stored tasks, attempts and executions once every process ended.
    /// Whether a stored attempt's error says its task was claimed ahead of a
    /// free slot and handed back before it started (at shutdown, or after
    /// waiting for a slot): such an attempt ran nothing.
    static func neverStarted(_ error: String) -> Bool {
        error.contains("before the task started") || error.contains("for a slot")
    }

    private static func check(
        _ probe: SQLProbe, _ database: ScenarioDatabase, settings: Settings, log: String, summaries: [String],
        findings: Findings
    ) async throws -> Findings {
        var findings = findings
        var violations: [String] = []
        // Text columns (SQLProbe): NULL reads as "".
        let tasks = try await probe.table("SELECT id, input, key, status, result FROM tasks").map {
            (id: Int64($0[0]) ?? -1, input: Int($0[1]) ?? -1, key: $0[2], status: $0[3], result: $0[4])
        }
        let keys = Set(tasks.map(\.key).filter { !$0.isEmpty })
        findings.expect(keys.count == tasks.count, "\(tasks.count) tasks but \(keys.count) distinct keys")
        for task in tasks {
            if task.status != "succeeded" || task.result != "\(Expected.share(task.input))" {
                violations.append("task \(task.id) (input \(task.input)): \(task.status) \(task.result)")
            }
            if !task.key.isEmpty, task.key != "p\(task.input / 1_000_000)-\(task.input % 1_000_000)" {
                violations.append("task \(task.id): key \(task.key) for input \(task.input)")
            }
        }

        // Stored attempts: one succeeded per task; runs never overlap in time.
        var attempts: [Int64: [(attempt: Int, start: Int64, end: Int64, outcome: String, error: String)]] = [:]
        let attemptRows = try await probe.table(
            "SELECT task_id, attempt, started_at, finished_at, outcome, coalesce(error, '') FROM task_attempts")
        for row in attemptRows {
            attempts[Int64(row[0]) ?? -1, default: []].append(
                (Int(row[1]) ?? -1, Int64(row[2]) ?? -1, Int64(row[3]) ?? -1, row[4], row[5]))
        }
        var handedBack = 0
        for task in tasks {
            let id = task.id
            let runs = (attempts[id] ?? []).sorted { $0.attempt < $1.attempt }
            if runs.filter({ $0.outcome == "succeeded" }).count != 1 {
                violations.append("task \(id): attempts \(runs.map { "\($0.attempt) \($0.outcome)" })")
            }
            for run in runs where run.outcome != "succeeded" {
                if run.outcome == "interrupted" { handedBack += 1 } else {
                    violations.append("task \(id): attempt \(run.attempt) \(run.outcome)")
                }
            }
            // (An attempt handed back before it started ran nothing: the next claim's
            // time, read before that process got the write lock, may precede its end.)
            for (a, b) in zip(runs, runs.dropFirst()) where b.start < a.end && !Self.neverStarted(a.error) {
                violations.append("task \(id): stored attempts \(a.attempt) and \(b.attempt) overlap in time")
            }
        }

        // Executions, from the jobs' own log: per task, never two at once.
        struct Run {
            var attempt: Int
            var pid: String
            var start: UInt64?
            var end: UInt64?
        }
        var runs: [String: Run] = [:]  // "task attempt" -> run
        for line in try lines(of: log) {
            let parts = line.split(separator: " ")
            guard parts.count == 5, let time = UInt64(parts[4]), let attempt = Int(parts[2]) else {
                violations.append("bad log line \"\(line)\"")
                continue
            }
            let key = "\(parts[1]) \(parts[2])"
            var run = runs[key] ?? Run(attempt: attempt, pid: String(parts[3]))
            if run.pid != String(parts[3]) {
                violations.append("task \(parts[1]) attempt \(attempt) ran in processes \(run.pid) and \(parts[3])")
            }
            if parts[0] == "S" {
                if run.start != nil { violations.append("task \(parts[1]) attempt \(attempt) started twice") }
                run.start = time
            } else {
                if run.end != nil { violations.append("task \(parts[1]) attempt \(attempt) ended twice") }
                run.end = time
            }
            runs[key] = run
        }
        var byTask: [Int64: [Run]] = [:]
        for (key, run) in runs {
            guard let id = key.split(separator: " ").first.flatMap({ Int64($0) }) else { continue }
            if run.start == nil || run.end == nil {
                violations.append("task \(id) attempt \(run.attempt): start or end missing from the log")
            }
            byTask[id, default: []].append(run)
        }
        for task in tasks {
            let id = task.id
            let executed = (byTask[id] ?? []).sorted { ($0.start ?? 0) < ($1.start ?? 0) }
            // Every execution is a stored attempt; a stored attempt without one is
            // a task claimed ahead of a free slot and handed back before it started.
            let stored = attempts[id] ?? []
            let storedNumbers = Set(stored.map(\.attempt))
            for run in executed where !storedNumbers.contains(run.attempt) {
                violations.append("task \(id): attempt \(run.attempt) ran but is not stored")
            }
            let executedNumbers = Set(executed.map(\.attempt))
            for run in stored where !executedNumbers.contains(run.attempt) {
                if run.outcome != "interrupted" || !Self.neverStarted(run.error) {
                    violations.append(
                        "task \(id): attempt \(run.attempt) \(run.outcome) is stored but never ran: \(run.error.prefix(120))")
                }
            }
            for (a, b) in zip(executed, executed.dropFirst()) where (b.start ?? 0) < (a.end ?? UInt64.max) {
                violations.append(
                    "task \(id): attempt \(a.attempt) (process \(a.pid)) and attempt \(b.attempt) (process \(b.pid)) "
                        + "ran at the same time")
            }
        }
        findings.expectNone(violations, "violation(s)")
        for problem in try await database.soundness(probe, thorough: true) { findings.fail(problem) }
        let claimers = Set(runs.values.map(\.pid)).count
        findings.expect(
            claimers == settings.processes || settings.processes == 1,
            "only \(claimers) of \(settings.processes) processes ran tasks")
        let attached = summaries.compactMap { summary in
            summary.split(separator: " ").first { $0.hasPrefix("attached=") }.flatMap { Int($0.dropFirst(9)) }
        }.reduce(0, +)
        let waits = summaries.compactMap { summary in
            summary.split(separator: " ").first { $0.hasPrefix("waits=") }.flatMap { Int($0.dropFirst(6)) }
        }.reduce(0, +)
        findings.note(
            "\(settings.processes) processes for \(Int(settings.shareSeconds)) s: \(tasks.count) tasks, "
                + "\(attached) attached by other processes' keys, \(waits) waits, executed by \(claimers) processes, "
                + "\(handedBack) handed back at shutdown")
        return findings
    }
}
