import Durable
import DurableTestKit
import Foundation

/// A batch of `pipeline` tasks (three steps, three children each) and `plain` tasks;
/// a worker process is started, SIGKILLed at a random moment, and the database (an
/// SQLite file, or a PostgreSQL schema once the server has ended the killed worker's
/// sessions) and the execution log are examined; then another worker resumes, and so
/// on; a last worker finishes the batch. Checked at every kill and at the end:
///
/// - a body (step closure, child run, plain run) runs at most once per worker life,
///   never again once stored (step row, child or plain task succeeded), and every run
///   the kill cut short belongs to a task that was in flight in the killed worker: the
///   re-executions a kill causes never exceed the tasks in flight at that kill;
/// - stored steps are never rewritten, children never replaced or duplicated, no task
///   fails or is cancelled, the rows are consistent (``ScenarioDatabase/soundness(_:thorough:)``:
///   on SQLite also `PRAGMA quick_check`);
/// - at the end every task succeeded exactly once (one `succeeded` attempt, every other
///   attempt one abandoned by a kill), each body ran 1 + (times cut short) times, the
///   results equal a crash-free run's computed directly (on an SQLite file, whichever
///   store the batch ran on), the rows are consistent (on SQLite also
///   `PRAGMA integrity_check`).
///
/// Kill moments: most workers are killed at a random point of progress (after a random
/// number of bodies started, plus a random 0–25 ms), some at a random time 0–150 ms
/// after they were started (start-up, recovery, first claims). Each worker may start
/// only a budget of bodies (later ones stall until the kill), sized from the work left,
/// so that the kills spread over the whole batch.
enum KillScenario {
    struct TaskRow {
        var id: Int64
        var job: String
        var input: Int
        var status: String
        var attempt: Int
        var owner: String?
    }

    static func run(_ context: ScenarioContext) async throws -> Findings {
        let database = context.database("batch.sqlite")
        // The batch: pipelines and plain tasks interleaved in chunks, ids 1...N.
        let order = try await submitBatch(
            database.address, pipelines: context.settings.pipelines, plains: context.settings.plains)
        return try await withProbe(database.address) { probe in
            try await run(context, database: database, order: order, probe: probe)
        }
    }

    /// The kills and the checks, on the batch `order` stored in `database`.
    private static func run(
        _ context: ScenarioContext, database: ScenarioDatabase, order: [Item], probe: SQLProbe
    ) async throws -> Findings {
        var rng = context.rng
        let settings = context.settings
        let folder = context.folder
        var findings = Findings()
        let log = folder.file("executions.log")
        let stalledLog = folder.file("stalled.log")
        let pipelines = settings.pipelines
        let plains = settings.plains
        let concurrency = settings.killConcurrency
        let topLevel = Int64(order.count)
        var pipelineIDs: [Int: Int64] = [:]
        var plainIDs: [Int: Int64] = [:]
        for (index, item) in order.enumerated() {
            if item.job == Pipeline.name { pipelineIDs[item.input] = Int64(index + 1) } else {
                plainIDs[item.input] = Int64(index + 1)
            }
        }
        let bodies: [String] =
            (0..<pipelines).flatMap { n in
                Expected.stepNames.map { Expected.stepLine($0, n) }
                    + (0..<Expected.childrenPerParent).map { Expected.childLine(n * 10 + $0) }
            } + (0..<plains).map(Expected.plainLine)
        let bodySet = Set(bodies)

        var tail = LogTail(path: log)
        var stalledTail = LogTail(path: stalledLog)

        // What is known across kills.
        var executions: [String: Int] = [:]
        var cuts: [String: Int] = [:]
        var doneAt: [String: Int] = [:]
        var stepRows: [String: String] = [:]
        var childIDs: [String: Int64] = [:]
        var runningAtKills = Set<String>()  // "task:attempt" stored as running at some kill
        var violations: [String] = []
        var killsInFlight = 0
        var startupKills = 0
        var cutTotal = 0
        var maxCuts = 0
        var maxInFlight = 0
        var kills = 0
        var stallKills = 0

        func workerArguments(_ extra: [String]) -> [String] {
            [
                "run", database.workerAddress, "--log", log, "--stalled-log", stalledLog, "--concurrency", "\(concurrency)",
                "--delay-ms", "\(settings.killDelayMilliseconds)",
            ] + extra
        }

        /// Reads the database after a worker life ended (no process runs, no session of
        /// it is left) and checks it against what the life executed; `pid` is the killed
        /// worker's, `nil` for the last.
        func examine(life: Int, pid: Int32?, lifeLines: [String]) async throws -> (inFlight: Int, cut: Int) {
            let rows = try await probe.table("SELECT id, job, input, status, attempt, owner FROM tasks").map {
                TaskRow(
                    id: Int64($0[0]) ?? -1, job: $0[1], input: Int($0[2]) ?? -1, status: $0[3], attempt: Int($0[4]) ?? -1,
                    owner: $0[5].isEmpty ? nil : $0[5])
            }
            var done = Set<String>()
            var leafIDs: [Int: Int64] = [:]
            var inFlight = Set<Int64>()
            var bad: [String] = []
            let marker = pid.map { ":\($0):" }
            for row in rows {
                if row.status == "running" {
                    runningAtKills.insert("\(row.id):\(row.attempt)")
                    if let marker, row.owner?.contains(marker) == true { inFlight.insert(row.id) }
                }
                if row.status == "failed" || row.status == "cancelled" || row.status == "exploded" {
                    bad.append("task \(row.id) (\(row.job) \(row.input)) \(row.status)")
                }
                switch row.job {
                case Leaf.name:
                    leafIDs[row.input] = row.id
                    let line = Expected.childLine(row.input)
                    if row.status == "succeeded" { done.insert(line) }
                    if let known = childIDs[line], known != row.id {
                        violations.append("\(line): was task \(known), now also task \(row.id)")
                    }
                    childIDs[line] = row.id
                case Plain.name:
                    if row.status == "succeeded" { done.insert(Expected.plainLine(row.input)) }
                default: break
                }
            }
            let leafCount = rows.filter { $0.job == Leaf.name }.count
            if leafCount != leafIDs.count { violations.append("life \(life): \(leafCount) leaf rows for \(leafIDs.count) inputs") }
            if !bad.isEmpty { violations.append("after life \(life): " + bad.prefix(5).joined(separator: ", ")) }
            for row in try await probe.table(
                """
                SELECT t.input, s.name, s.position, s.kind, s.status, s.result, s.attempt
                FROM task_steps AS s JOIN tasks AS t ON t.id = s.task_id WHERE t.job = 'pipeline'
                """)
            {
                let line = Expected.stepLine(row[1], Int(row[0]) ?? -1)
                let stored = "position \(row[2]) \(row[3]) \(row[4]) \(row[5].isEmpty ? "nil" : row[5]) attempt \(row[6])"
                if let before = stepRows[line], before != stored {
                    violations.append("\(line): stored as \(before), rewritten as \(stored) by life \(life)")
                }
                stepRows[line] = stored
                done.insert(line)
            }
            // Stored steps never disappear.
            for line in stepRows.keys where !done.contains(line) {
                violations.append("\(line): its stored step vanished after life \(life)")
            }

            var ran: [String: Int] = [:]
            for line in lifeLines {
                guard bodySet.contains(line) else {
                    violations.append("life \(life): unexpected log line \"\(line)\"")
                    continue
                }
                ran[line, default: 0] += 1
                executions[line, default: 0] += 1
            }
            var cut = 0
            for (line, count) in ran {
                if count > 1 { violations.append("\(line): ran \(count) times in life \(life)") }
                if let at = doneAt[line] { violations.append("\(line): stored by life \(at), ran again in life \(life)") }
            }
            for line in doneAt.keys where !done.contains(line) {
                violations.append("\(line): stored by life \(doneAt[line] ?? -1), not stored after life \(life)")
            }
            for line in done where doneAt[line] == nil && bodySet.contains(line) {
                doneAt[line] = life
                if ran[line] == nil { violations.append("\(line): stored by life \(life), which did not run it") }
            }
            for line in ran.keys where !done.contains(line) {
                // Cut short by the kill: its task must have been in flight in this worker.
                cut += 1
                cuts[line, default: 0] += 1
                let owner: Int64?
                if line.hasPrefix("step ") {
                    owner = Int(line.split(separator: " ").last ?? "").flatMap { pipelineIDs[$0] }
                } else if line.hasPrefix("child ") {
                    let parts = line.split(separator: " ")
                    let k = parts.count == 4 ? Int(parts[1]) : nil
                    let n = parts.count == 4 ? Int(parts[3]) : nil
                    owner = k.flatMap { k in n.flatMap { leafIDs[$0 * 10 + k] } }
                } else {
                    owner = Int(line.split(separator: " ").last ?? "").flatMap { plainIDs[$0] }
                }
                if pid == nil {
                    violations.append("\(line): ran in the last worker but is not stored at the end")
                } else if owner.map({ !inFlight.contains($0) }) ?? true {
                    violations.append("\(line): cut short by kill \(life), but its task was not in flight then")
                }
            }
            if cut > inFlight.count {
                violations.append("kill \(life): \(cut) bodies cut short, more than the \(inFlight.count) tasks in flight")
            }
            return (inFlight.count, cut)
        }

        // The kills.
        let killStart = ContinuousClock.now
        var finishedEarly = false
        for life in 1...max(1, settings.kills) {
            let remainingBodies = bodies.count - doneAt.count
            if remainingBodies == 0 {
                finishedEarly = true
                break
            }
            let killsLeft = settings.kills - life + 1
            let mean = max(1, Int(0.8 * Double(remainingBodies) / Double(killsLeft)))
            let target = Int.random(in: 1...(2 * mean + concurrency), using: &rng)
            let startup = Double.random(in: 0..<1, using: &rng) < 0.15
            _ = try stalledTail.newLines()
            var lifeLines = try tail.newLines()
            if !lifeLines.isEmpty {
                violations.append("\(lifeLines.count) log line(s) written while no worker ran")
                lifeLines = []
            }
            let child = try Child(
                "worker-\(life)", workerArguments(["--stall-after", "\(target)"]), output: folder.file("worker-\(life).out"))
            if startup {
                startupKills += 1
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...150, using: &rng)))
                lifeLines += try tail.newLines()
            } else {
                let deadline = ContinuousClock.now + .seconds(20)
                var stalled = false
                while lifeLines.count < target && ContinuousClock.now < deadline && child.isRunning {
                    try await Task.sleep(for: .milliseconds(1))
                    lifeLines += try tail.newLines()
                    if try !stalledTail.newLines().isEmpty {
                        stalled = true
                        break
                    }
                }
                if stalled { stallKills += 1 }
                try await Task.sleep(for: .microseconds(Int.random(in: 0...25_000, using: &rng)))
            }
            let exitedEarly = !child.isRunning
            try await child.sigkill()
            try await database.waitForWorkerSessions(probe)
            kills += 1
            if exitedEarly {
                violations.append("worker \(life) exited before the kill: \(child.output(last: 1500))")
            }
            _ = try stalledTail.newLines()
            lifeLines += try tail.newLines()
            let (inFlight, cut) = try await examine(life: life, pid: child.pid, lifeLines: lifeLines)
            if inFlight > 0 { killsInFlight += 1 }
            cutTotal += cut
            maxCuts = max(maxCuts, cut)
            maxInFlight = max(maxInFlight, inFlight)
            for problem in try await database.soundness(probe, thorough: false) {
                violations.append("after kill \(life): \(problem)")
            }
            if violations.count > 200 { break }
        }
        let killTime = ContinuousClock.now - killStart

        // The last worker finishes the batch and exits.
        let storedBeforeLast = doneAt.count
        let last = try Child(
            "worker-last", workerArguments(["--wait-ids", "1-\(topLevel)"]), output: folder.file("worker-last.out"))
        let limit: Duration = settings.quick ? .seconds(240) : .seconds(1200)
        if let ended = try await last.exit(within: limit) {
            findings.expect(
                ended.status == 0 && !ended.signalled,
                "the last worker ended with \(ended.signalled ? "signal" : "status") \(ended.status): \(last.output())")
        } else {
            findings.fail("the last worker did not finish the batch within \(limit): \(last.output())")
        }
        try await database.waitForWorkerSessions(probe)
        _ = try await examine(life: kills + 1, pid: nil, lifeLines: try tail.newLines())

        // Every task succeeded once, with the crash-free results.
        let final = try await finalChecks(
            probe, pipelines: pipelines, plains: plains, pipelineIDs: pipelineIDs, runningAtKills: runningAtKills)
        violations += final
        for body in bodies {
            let expected = 1 + cuts[body, default: 0]
            if executions[body, default: 0] != expected {
                violations.append("\(body): ran \(executions[body, default: 0]) times, cut short \(expected - 1) times")
            }
        }
        let reference = try await referenceOutcome(folder, order: order)
        let actual = try await probe.storedOutcome()
        if actual != reference {
            let missing = Set(reference).subtracting(actual)
            let extra = Set(actual).subtracting(reference)
            violations.append(
                "the stored outcome differs from the crash-free run: \(missing.count) missing, e.g. "
                    + "\(missing.sorted().prefix(3)); \(extra.count) unexpected, e.g. \(extra.sorted().prefix(3))")
        }
        for problem in try await database.soundness(probe, thorough: true) { findings.fail("at the end: \(problem)") }
        findings.expectNone(violations, "violation(s)")
        findings.expect(
            kills >= settings.kills,
            "only \(kills) kills of \(settings.kills) planned" + (finishedEarly ? " (the batch finished first)" : ""))
        findings.expect(
            killsInFlight * 2 >= kills, "only \(killsInFlight) of \(kills) kills found tasks in flight")

        let totalTasks = try await probe.int("SELECT count(*) FROM tasks")
        findings.note(
            "\(kills) kills in \(formatSeconds(killTime)) (\(killsInFlight) with tasks in flight, \(startupKills) "
                + "timed from start, \(stallKills) at the budget), \(totalTasks) tasks "
                + "(\(pipelines) pipelines, \(pipelines * 3) children, \(plains) plain), \(bodies.count) bodies, "
                + "\(cutTotal) re-executions (at most \(maxCuts) per kill; up to \(maxInFlight) in flight), "
                + "\(storedBeforeLast) bodies stored before the last worker")
        return findings
    }
}
