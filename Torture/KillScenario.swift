import Durable
import Foundation
import GRDB

/// A batch of `pipeline` tasks (three steps, three children each) and `plain` tasks;
/// a worker process is started, SIGKILLed at a random moment, and the file and the
/// execution log are examined; then another worker resumes, and so on; a last worker
/// finishes the batch. Checked at every kill and at the end:
///
/// - a body (step closure, child run, plain run) runs at most once per worker life,
///   never again once stored (step row, child or plain task succeeded), and every run
///   the kill cut short belongs to a task that was in flight in the killed worker: the
///   re-executions a kill causes never exceed the tasks in flight at that kill;
/// - stored steps are never rewritten, children never replaced or duplicated, no task
///   fails or is cancelled, `PRAGMA quick_check` is ok;
/// - at the end every task succeeded exactly once (one `succeeded` attempt, every other
///   attempt one abandoned by a kill), each body ran 1 + (times cut short) times, the
///   results equal a crash-free run's computed directly, `PRAGMA integrity_check` is ok.
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
        var rng = context.rng
        let settings = context.settings
        let folder = context.folder
        var findings = Findings()
        let database = folder.file("batch.sqlite")
        let log = folder.file("executions.log")
        let stalledLog = folder.file("stalled.log")
        let pipelines = settings.pipelines
        let plains = settings.plains
        let concurrency = settings.killConcurrency

        // The batch: pipelines and plain tasks interleaved in chunks, ids 1...N.
        let order = try await submitBatch(database, pipelines: pipelines, plains: plains)
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

        let probe = try Probe(path: database)
        defer { try? probe.close() }
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
                "batch", database, "--log", log, "--stalled-log", stalledLog, "--concurrency", "\(concurrency)",
                "--delay-ms", "\(settings.killDelayMilliseconds)",
            ] + extra
        }

        /// Reads the file after a worker life ended (no process runs) and checks it
        /// against what the life executed; `pid` is the killed worker's, `nil` for the last.
        func examine(life: Int, pid: Int32?, lifeLines: [String]) throws -> (inFlight: Int, cut: Int) {
            let rows = try probe.rows("SELECT id, job, input, status, attempt, owner FROM tasks").map {
                TaskRow(
                    id: $0["id"], job: $0["job"], input: Int($0["input"] as String) ?? -1, status: $0["status"],
                    attempt: $0["attempt"], owner: $0["owner"])
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
            for row in try probe.rows(
                """
                SELECT t.input, s.name, s.position, s.kind, s.status, s.result, s.attempt
                FROM task_steps AS s JOIN tasks AS t ON t.id = s.task_id WHERE t.job = 'pipeline'
                """)
            {
                let line = Expected.stepLine(row["name"], Int(row["input"] as String) ?? -1)
                let stored = "position \(row["position"] as Int) \(row["kind"] as String) \(row["status"] as String) "
                    + "\(row["result"] as String? ?? "nil") attempt \(row["attempt"] as Int)"
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
            kills += 1
            if exitedEarly {
                violations.append("worker \(life) exited before the kill: \(child.output(last: 1500))")
            }
            _ = try stalledTail.newLines()
            lifeLines += try tail.newLines()
            let (inFlight, cut) = try examine(life: life, pid: child.pid, lifeLines: lifeLines)
            if inFlight > 0 { killsInFlight += 1 }
            cutTotal += cut
            maxCuts = max(maxCuts, cut)
            maxInFlight = max(maxInFlight, inFlight)
            let check = try probe.quickCheck()
            if check != ["ok"] { violations.append("quick_check after kill \(life): \(check.prefix(3))") }
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
        _ = try examine(life: kills + 1, pid: nil, lifeLines: try tail.newLines())

        // Every task succeeded once, with the crash-free results.
        let final = try finalChecks(
            probe, pipelines: pipelines, plains: plains, pipelineIDs: pipelineIDs, runningAtKills: runningAtKills)
        violations += final
        for body in bodies {
            let expected = 1 + cuts[body, default: 0]
            if executions[body, default: 0] != expected {
                violations.append("\(body): ran \(executions[body, default: 0]) times, cut short \(expected - 1) times")
            }
        }
        let reference = try await referenceOutcome(folder, order: order)
        let actual = try outcome(of: probe)
        if actual != reference {
            let missing = Set(reference).subtracting(actual)
            let extra = Set(actual).subtracting(reference)
            violations.append(
                "the stored outcome differs from the crash-free run: \(missing.count) missing, e.g. "
                    + "\(missing.sorted().prefix(3)); \(extra.count) unexpected, e.g. \(extra.sorted().prefix(3))")
        }
        let integrity = try probe.integrityCheck()
        findings.expect(integrity == ["ok"], "integrity_check: \(integrity.prefix(5))")
        findings.expectNone(violations, "violation(s)")
        findings.expect(
            kills >= settings.kills,
            "only \(kills) kills of \(settings.kills) planned" + (finishedEarly ? " (the batch finished first)" : ""))
        findings.expect(
            killsInFlight * 2 >= kills, "only \(killsInFlight) of \(kills) kills found tasks in flight")

        let totalTasks = try probe.int("SELECT count(*) FROM tasks")
        findings.note(
            "\(kills) kills in \(formatSeconds(killTime)) (\(killsInFlight) with tasks in flight, \(startupKills) "
                + "timed from start, \(stallKills) at the budget), \(totalTasks) tasks "
                + "(\(pipelines) pipelines, \(pipelines * 3) children, \(plains) plain), \(bodies.count) bodies, "
                + "\(cutTotal) re-executions (at most \(maxCuts) per kill; up to \(maxInFlight) in flight), "
                + "\(storedBeforeLast) bodies stored before the last worker")
        return findings
    }

    struct Item: Sendable {
        var job: String
        var input: Int
    }

    /// Creates the batch on a fresh file, interleaving pipelines and plain tasks in
    /// chunks; returns the top-level tasks in id order (ids 1...N).
    static func submitBatch(_ path: String, pipelines: Int, plains: Int) async throws -> [Item] {
        var order: [Item] = []
        var p = 0
        var q = 0
        while p < pipelines || q < plains {
            let pipelineChunk = min(25, pipelines - p)
            order += (p..<(p + pipelineChunk)).map { Item(job: Pipeline.name, input: $0) }
            p += pipelineChunk
            let plainChunk = min(60, plains - q)
            order += (q..<(q + plainChunk)).map { Item(job: Plain.name, input: $0) }
            q += plainChunk
        }
        try await create(order, in: path)
        let probe = try Probe(path: path)
        defer { try? probe.close() }
        let stored = try probe.rows("SELECT id, job, input FROM tasks ORDER BY id")
        guard stored.count == order.count,
            zip(stored, order).enumerated().allSatisfy({ index, pair in
                pair.0["id"] as Int64 == Int64(index + 1) && pair.0["job"] as String == pair.1.job
                    && pair.0["input"] as String == "\(pair.1.input)"
            })
        else {
            throw TortureFailure("the batch was not stored as ids 1...\(order.count) in submission order")
        }
        return order
    }

    static func create(_ order: [Item], in path: String) async throws {
        let engine = try TaskEngine(path: path, logger: quietLogger)
        var start = 0
        while start < order.count {
            let job = order[start].job
            var end = start
            while end < order.count && order[end].job == job { end += 1 }
            let inputs = order[start..<end].map(\.input)
            if job == Pipeline.name {
                _ = try await engine.createTasks(Pipeline.self, inputs.map { TaskRequest($0, name: "pipeline-\($0)") })
            } else {
                _ = try await engine.createTasks(Plain.self, inputs.map { TaskRequest($0, name: "plain-\($0)") })
            }
            start = end
        }
        try engine.close()
    }

    /// The end state: every task succeeded exactly once with its result, each pipeline
    /// has its three children and three steps, and every attempt other than the
    /// succeeded one was abandoned by a kill while it was stored as running.
    static func finalChecks(
        _ probe: Probe, pipelines: Int, plains: Int, pipelineIDs: [Int: Int64], runningAtKills: Set<String>
    ) throws -> [String] {
        var violations: [String] = []
        let rows = try probe.rows("SELECT id, job, input, status, result, completion_seq, parent_id, key, name FROM tasks")
        let expectedCount = pipelines * (1 + Expected.childrenPerParent) + plains
        if rows.count != expectedCount { violations.append("\(rows.count) tasks stored, \(expectedCount) expected") }
        var sequences = Set<Int64>()
        var children: [Int64: [Int]] = [:]
        for row in rows {
            let id: Int64 = row["id"]
            let job: String = row["job"]
            let input = Int(row["input"] as String) ?? -1
            let expected: Int
            switch job {
            case Pipeline.name: expected = Expected.pipeline(input)
            case Leaf.name: expected = Expected.leaf(input)
            case Plain.name: expected = Expected.plain(input)
            default:
                violations.append("task \(id) has the unexpected job \(job)")
                continue
            }
            if row["status"] as String != "succeeded" || row["result"] as String? != "\(expected)" {
                violations.append(
                    "task \(id) (\(job) \(input)): \(row["status"] as String) with \(row["result"] as String? ?? "nil"), "
                        + "expected succeeded with \(expected)")
            }
            if let sequence = row["completion_seq"] as Int64? {
                if !sequences.insert(sequence).inserted { violations.append("task \(id): completion_seq \(sequence) twice") }
            } else {
                violations.append("task \(id): no completion_seq")
            }
            if job == Leaf.name {
                if let parent = row["parent_id"] as Int64? { children[parent, default: []].append(input) } else {
                    violations.append("child task \(id) has no parent")
                }
            }
        }
        for (n, id) in pipelineIDs {
            let inputs = (children[id] ?? []).sorted()
            if inputs != (0..<Expected.childrenPerParent).map({ n * 10 + $0 }) {
                violations.append("pipeline \(n) (task \(id)) has children \(inputs)")
            }
        }
        let steps = try probe.rows(
            "SELECT t.input, s.position, s.name, s.result FROM task_steps s JOIN tasks t ON t.id = s.task_id")
        if steps.count != pipelines * Expected.stepNames.count {
            violations.append("\(steps.count) step rows, \(pipelines * Expected.stepNames.count) expected")
        }
        for row in steps {
            let n = Int(row["input"] as String) ?? -1
            let name: String = row["name"]
            if Expected.stepNames.firstIndex(of: name) != row["position"] as Int
                || row["result"] as String? != "\(Expected.step(name, of: n))"
            {
                violations.append("pipeline \(n): wrong step row \(row)")
            }
        }
        // Attempts: one succeeded per task; the others are exactly the runs stored as
        // running at a kill, recovered as abandoned.
        var succeeded: [Int64: Int] = [:]
        var abandoned = Set<String>()
        for row in try probe.rows("SELECT task_id, attempt, outcome FROM task_attempts") {
            let id: Int64 = row["task_id"]
            switch row["outcome"] as String {
            case "succeeded": succeeded[id, default: 0] += 1
            case "abandoned": abandoned.insert("\(id):\(row["attempt"] as Int)")
            case let other: violations.append("task \(id) attempt \(row["attempt"] as Int): \(other)")
            }
        }
        for row in rows where succeeded[row["id"] as Int64] != 1 {
            violations.append("task \(row["id"] as Int64): \(succeeded[row["id"] as Int64] ?? 0) succeeded attempts")
        }
        let unexplained = abandoned.subtracting(runningAtKills)
        let unrecovered = runningAtKills.subtracting(abandoned)
        if !unexplained.isEmpty {
            violations.append("abandoned attempts never seen running at a kill: \(unexplained.sorted().prefix(10))")
        }
        if !unrecovered.isEmpty {
            violations.append("runs stored as running at a kill but not recorded abandoned: \(unrecovered.sorted().prefix(10))")
        }
        let unstopped = try probe.int("SELECT count(*) FROM workers WHERE stopped_at IS NULL")
        if unstopped != 0 { violations.append("\(unstopped) worker rows not marked stopped") }
        return violations
    }

    /// What a run stores that does not depend on timing: per top-level task its
    /// result, per pipeline its steps and its children (keys relative to the parent).
    static func outcome(of probe: Probe) throws -> [String] {
        let tasks = try probe.rows("SELECT job, input, status, result FROM tasks WHERE parent_id IS NULL").map {
            "\($0["job"] as String) \($0["input"] as String) \($0["status"] as String) \($0["result"] as String? ?? "nil")"
        }
        let steps = try probe.rows(
            """
            SELECT t.input, s.position, s.name, s.kind, s.status, s.result
            FROM task_steps AS s JOIN tasks AS t ON t.id = s.task_id
            """
        ).map {
            "step \($0["input"] as String) \($0["position"] as Int) \($0["name"] as String) \($0["kind"] as String) "
                + "\($0["status"] as String) \($0["result"] as String? ?? "nil")"
        }
        let children = try probe.rows(
            """
            SELECT p.input AS parent, replace(c.key, 'child-of-' || p.id || '/', '') AS key,
                   c.name, c.input, c.status, c.result
            FROM tasks AS c JOIN tasks AS p ON p.id = c.parent_id
            """
        ).map {
            "child of \($0["parent"] as String): \($0["key"] as String? ?? "nil") \($0["name"] as String) "
                + "\($0["input"] as String) \($0["status"] as String) \($0["result"] as String? ?? "nil")"
        }
        return (tasks + steps + children).sorted()
    }

    /// The same batch run to the end in this process on a fresh file, never killed.
    static func referenceOutcome(_ folder: Folder, order: [Item]) async throws -> [String] {
        let path = folder.file("reference.sqlite")
        try await create(order, in: path)
        var configuration = EngineConfiguration()
        configuration.durability = .processCrashSafe
        configuration.maxConcurrentTasks = 64
        let engine = try TaskEngine(path: path, configuration: configuration, logger: quietLogger)
        registerJobs(on: engine, work: Workload())
        try await engine.run { engine in
            var tasks: [DurableTask<Int>] = []
            for id in 1...Int64(order.count) {
                if order[Int(id - 1)].job == Pipeline.name {
                    tasks.append(try await engine.task(id: TaskID(id), as: Pipeline.self))
                } else {
                    tasks.append(try await engine.task(id: TaskID(id), as: Plain.self))
                }
            }
            _ = try await engine.wait(tasks)
        }
        let probe = try Probe(path: path)
        defer { try? probe.close() }
        return try outcome(of: probe)
    }
}
