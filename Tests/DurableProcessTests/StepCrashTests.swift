import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// Durable execution under SIGKILL: a `DurableTestWorker` child runs multi-step,
/// multi-child `pipeline` jobs (and `napper` jobs that sleep durably); the test
/// kills it at moments chosen by polling the database, reads the file while no
/// process runs, and starts another. Every step body and child run logs one line
/// ("step fetch 7", "child 2 of 7") as it starts, so the test counts executions.
@Suite("Steps and child tasks under SIGKILL", .serialized)
struct StepCrashTests {
    static let parents = 48
    static let childrenPerParent = 3
    static let stepNames = ["fetch", "middle", "combine"]
    /// Far fewer slots than parents: a parent gives up its slot while it gathers
    /// its children, so that they can run.
    static let concurrency = 8

    // What the worker's jobs compute (see `Pipeline` and `Leaf` in DurableTestWorker).
    static func stepResult(_ step: String, of n: Int) -> Int {
        switch step {
        case "fetch": n * 1000
        case "middle": n * 1001
        default: n * 1001 + (0..<childrenPerParent).map { childResult(n * 10 + $0) }.reduce(0, +)
        }
    }
    static func childResult(_ m: Int) -> Int { m * 7 }
    static func pipelineResult(_ n: Int) -> Int { 1211 * n + 21 }

    /// The log line of a step body or child run: the identity of a body here.
    static func stepLine(_ step: String, _ n: Int) -> String { "step \(step) \(n)" }
    static func childLine(_ m: Int) -> String { "child \(m % 10) of \(m / 10)" }

    /// What the file and the execution log held right after one kill.
    struct KillSnapshot {
        var executions: [String: Int]
        /// Bodies finished for good: steps stored, children succeeded.
        var done: Set<String>
        /// Parents (by input) and children (by line) stored as running.
        var runningParents: Set<Int>
        var runningChildren: Set<String>
        var succeededParents: Set<Int>
        /// Bodies stalled on purpose, so certainly in progress, at the kill.
        var stalled: Set<String>
        /// Stored step rows by line: position, result and the run that stored them.
        var stepRows: [String: String]
        /// Child task ids by line.
        var childIDs: [String: Int64]
    }

    static func snapshot(_ probe: DatabaseProbe, log: String, stalled: Set<String>) throws -> KillSnapshot {
        var stepRows: [String: String] = [:]
        for row in try probe.rows(
            """
            SELECT t.input, s.name, s.position, s.kind, s.status, s.result, s.attempt
            FROM durable_task_steps AS s JOIN durable_tasks AS t ON t.id = s.task_id WHERE t.job = 'pipeline'
            """)
        {
            let line = stepLine(row["name"], Int(row["input"] as String) ?? -1)
            stepRows[line] = "\(row["position"] as Int) \(row["kind"] as String) \(row["status"] as String) "
                + "\(row["result"] as String? ?? "nil") attempt \(row["attempt"] as Int)"
        }
        var childIDs: [String: Int64] = [:]
        var done = Set(stepRows.keys)
        var runningChildren: Set<String> = []
        for row in try probe.rows("SELECT id, input, status FROM durable_tasks WHERE job = 'leaf'") {
            let line = childLine(Int(row["input"] as String) ?? -1)
            childIDs[line] = row["id"]
            switch row["status"] as String {
            case "succeeded": done.insert(line)
            case "running": runningChildren.insert(line)
            default: break
            }
        }
        func parents(_ status: String) throws -> Set<Int> {
            Set(
                try probe.strings("SELECT input FROM durable_tasks WHERE job = 'pipeline' AND status = ?", [status])
                    .compactMap { Int($0) })
        }
        return KillSnapshot(
            executions: try countLines(of: log), done: done, runningParents: try parents("running"),
            runningChildren: runningChildren, succeededParents: try parents("succeeded"), stalled: stalled,
            stepRows: stepRows, childIDs: childIDs)
    }

    @Test("a multi-step, multi-child job killed at many points runs each stored step once and creates each child once")
    func pipelineKilledRepeatedly() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("steps.sqlite")
        let executionLog = directory.file("executions.log")
        let stalledLog = directory.file("stalled.log")
        let count = Self.parents
        let children = count * Self.childrenPerParent

        // Parents become due 15 ms apart, so that kills find them at every stage.
        let engine = try TaskEngine(path: database, logger: testLogger)
        let tasks = try await engine.createTasks(
            Pipeline.self,
            (0..<count).map { TaskRequest($0, name: "pipeline-\($0)", options: .init(delay: .milliseconds(15 * $0))) })
        let ids = tasks.map(\.id.rawValue)
        let first = try #require(ids.first)
        let last = try #require(ids.last)
        try #require(last - first + 1 == Int64(count), "a fresh file numbers one batch contiguously")
        let probe = try DatabaseProbe(path: database)
        let workerArguments = [
            "run", database, "--concurrency", "\(Self.concurrency)", "--log", executionLog, "--delay-ms", "8",
            "--stalled-log", stalledLog,
        ]

        // Five rounds: start a worker, wait until the file shows the round's progress,
        // kill it. Each worker may start only `budget` bodies; later ones stall until
        // the kill, so the worker never runs away from the test. Stalling rounds wait
        // for stalled bodies, so the kill certainly cuts some short; round 2 kills the
        // worker at its first body, while it re-runs the parents round 1 cut short.
        // Other rounds kill when the file shows the progress (or the worker stalled).
        struct Counts {
            var lines: Int
            var steps: Int
            var children: Int
            var succeeded: Int
        }
        func counts() throws -> Counts {
            Counts(
                lines: try lines(of: executionLog).count,
                steps: try probe.int("SELECT count(*) FROM durable_task_steps"),
                children: try probe.int("SELECT count(*) FROM durable_tasks WHERE job = 'leaf'"),
                succeeded: try probe.int("SELECT count(*) FROM durable_tasks WHERE job = 'pipeline' AND status = 'succeeded'"))
        }
        struct Round {
            var what: String
            var budget: Int
            var stalls = false
            var reached: @Sendable (_ now: Counts, _ start: Counts) -> Bool = { _, _ in false }
        }
        let rounds = [
            Round(what: "3 bodies stall after 40", budget: 40, stalls: true),
            Round(what: "the worker runs a body", budget: 25) { $0.lines > $1.lines },
            Round(what: "the worker stored 10 steps and created 6 children", budget: 80) {
                $0.steps >= $1.steps + 10 && $0.children >= $1.children + 6
            },
            Round(what: "3 bodies stall after 40", budget: 40, stalls: true),
            Round(what: "the worker finished 4 parents", budget: 80) { $0.succeeded >= $1.succeeded + 4 },
        ]
        var kills: [KillSnapshot] = []
        for (index, round) in rounds.enumerated() {
            let start = try counts()
            let stalledBefore = try lines(of: stalledLog).count
            let child = try ChildProcess(
                "worker-\(index + 1)", arguments: workerArguments + ["--stall-after", "\(round.budget)"],
                in: directory)
            try await poll("\(round.what) (worker \(index + 1))", child: child) {
                let stalled = try lines(of: stalledLog).count - stalledBefore
                return round.stalls ? stalled >= 3 : try round.reached(counts(), start) || stalled > 0
            }
            try await child.sigkill()
            let kill = try Self.snapshot(
                probe, log: executionLog, stalled: Set(try lines(of: stalledLog).dropFirst(stalledBefore)))
            kills.append(kill)

            #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status IN ('failed', 'cancelled')") == 0)
            // Children never wait, so they alone never exceed the slots (parents
            // waiting for them do not hold one).
            #expect(kill.runningChildren.count <= Self.concurrency)
            #expect(kill.stalled.isDisjoint(with: kill.done), "a stalled body cannot have finished")
        }
        #expect(kills.filter { $0.stalled.count >= 3 }.count >= 2)

        // The last worker finishes the batch and exits; this process, which runs no
        // worker, gathers the results through the change watcher.
        let finalChild = try ChildProcess(
            "worker-\(rounds.count + 1)", arguments: workerArguments + ["--wait-ids", "\(first)-\(last)"],
            in: directory)
        let results = try await withTimeout("the pipelines are gathered", .seconds(90)) {
            try await engine.gather(tasks)
        }
        #expect(results == (0..<count).map(Self.pipelineResult))
        try await finalChild.expectCleanExit()
        let final = try Self.snapshot(probe, log: executionLog, stalled: [])

        // Every parent and every child succeeded with its own result; each parent has
        // exactly its three children, keyed by occurrence, and nothing else exists.
        let parentRows = try probe.rows(
            "SELECT id, input, status, result FROM durable_tasks WHERE job = 'pipeline' ORDER BY id")
        #expect(parentRows.count == count)
        let wrongParents = parentRows.filter { row in
            row["status"] as String != "succeeded"
                || row["result"] as String? != "\(Self.pipelineResult(Int(row["input"] as String) ?? -1))"
        }
        #expect(wrongParents.isEmpty, "parents not succeeded with their result: \(wrongParents.prefix(10))")
        #expect(try probe.int("SELECT count(*) FROM durable_tasks") == count + children)
        var violations: [String] = []
        for (n, id) in zip(0..<count, ids) {
            let rows = try probe.rows(
                "SELECT input, name, key, status, result FROM durable_tasks WHERE parent_id = ? ORDER BY id", [id])
            if rows.count != Self.childrenPerParent {
                violations.append("parent \(n) (task \(id)) has \(rows.count) children")
            }
            for row in rows {
                let m = Int(row["input"] as String) ?? -1
                let expectedKey = "child-of-\(id)/leaf/part#\(m - n * 10)"
                if m / 10 != n || row["key"] as String? != expectedKey || row["name"] as String != "part"
                    || row["status"] as String != "succeeded"
                    || row["result"] as String? != "\(Self.childResult(m))"
                {
                    violations.append("parent \(n): wrong child \(row)")
                }
            }
        }

        // Steps: exactly fetch, middle and combine at positions 0, 1, 2 of every parent,
        // stored with the results of a run without crashes.
        let stepRows = try probe.rows(
            """
            SELECT t.input, s.position, s.name, s.kind, s.status, s.result
            FROM durable_task_steps AS s JOIN durable_tasks AS t ON t.id = s.task_id ORDER BY t.id, s.position
            """)
        #expect(stepRows.count == count * Self.stepNames.count)
        for row in stepRows {
            let n = Int(row["input"] as String) ?? -1
            let position: Int = row["position"]
            let name: String = row["name"]
            if Self.stepNames.firstIndex(of: name) != position || row["kind"] as String != "step"
                || row["status"] as String != "succeeded"
                || row["result"] as String? != "\(Self.stepResult(name, of: n))"
            {
                violations.append("parent \(n): wrong step row \(row)")
            }
        }

        // Executions. A body runs at most once per worker life; once its step is stored
        // (or its child succeeded) it never runs again; every run cut short by a kill
        // is followed by exactly one more, and nothing else runs it twice.
        let bodies = (0..<count).flatMap { n in
            Self.stepNames.map { Self.stepLine($0, n) }
                + (0..<Self.childrenPerParent).map { Self.childLine(n * 10 + $0) }
        }
        var cutShort = 0
        for body in bodies {
            let isStep = body.hasPrefix("step ")
            let parent = Int(body.split(separator: " ").last ?? "") ?? -1
            var previous = 0
            var cuts = 0
            var doneAt: Int?
            for (index, kill) in kills.enumerated() {
                let executions = kill.executions[body, default: 0]
                let ranThisLife = executions - previous
                previous = executions
                if ranThisLife > 1 { violations.append("\(body): ran \(ranThisLife) times in worker \(index + 1)") }
                if let doneAt, ranThisLife > 0 {
                    violations.append("\(body): finished by kill \(doneAt + 1), but ran again in worker \(index + 1)")
                }
                if let doneAt, !kill.done.contains(body) {
                    violations.append("\(body): finished by kill \(doneAt + 1), but not at kill \(index + 1)")
                }
                if kill.done.contains(body) {
                    if doneAt == nil { doneAt = index }
                } else if ranThisLife == 1 {
                    // Cut short: its task was running when the kill came.
                    cuts += 1
                    let running = isStep ? kill.runningParents.contains(parent) : kill.runningChildren.contains(body)
                    if !running { violations.append("\(body): cut short by kill \(index + 1), but not running") }
                }
                if kill.stalled.contains(body), kill.done.contains(body) || ranThisLife != 1 {
                    violations.append("\(body): stalled at kill \(index + 1), but not cut short by it")
                }
            }
            let executions = final.executions[body, default: 0]
            if let doneAt, executions != previous {
                violations.append("\(body): finished by kill \(doneAt + 1), but ran again in the last worker")
            }
            if executions != 1 + cuts {
                violations.append("\(body): ran \(executions) times, cut short by \(cuts) kill(s)")
            }
            cutShort += cuts
        }
        // Stored steps are never rewritten, children never replaced.
        for (index, kill) in kills.enumerated() {
            for (line, row) in kill.stepRows where final.stepRows[line] != row {
                let now = final.stepRows[line] ?? "gone"
                violations.append("\(line): stored as \(row) at kill \(index + 1), \(now) now")
            }
            for (line, id) in kill.childIDs where final.childIDs[line] != id {
                violations.append("\(line): task \(id) at kill \(index + 1), \(final.childIDs[line] ?? -1) now")
            }
        }
        #expect(violations.isEmpty, "\(violations.count) violation(s): \(violations.prefix(20))")
        #expect(kills.allSatisfy { !$0.stalled.isEmpty || $0.runningParents.count + $0.runningChildren.count > 0 })
        #expect(cutShort >= kills.filter { !$0.stalled.isEmpty }.map(\.stalled.count).reduce(0, +))

        // Runs: one succeeded run per task; the others are the runs a kill abandoned.
        var succeededRuns: [Int64: Int] = [:]
        var abandonedRuns: [Int64: Int] = [:]
        var otherRuns: [String] = []
        for row in try probe.rows("SELECT task_id, outcome FROM durable_task_attempts") {
            let id: Int64 = row["task_id"]
            switch row["outcome"] as String {
            case "succeeded": succeededRuns[id, default: 0] += 1
            case "abandoned": abandonedRuns[id, default: 0] += 1
            case let other: otherRuns.append("task \(id): \(other)")
            }
        }
        #expect(otherRuns.isEmpty, "runs neither succeeded nor abandoned: \(otherRuns.prefix(20))")
        var runViolations: [String] = []
        for row in try probe.rows("SELECT id, job, input FROM durable_tasks") {
            let id: Int64 = row["id"]
            let input = Int(row["input"] as String) ?? -1
            let runningAtKills = kills.filter { kill in
                row["job"] as String == "leaf"
                    ? kill.runningChildren.contains(Self.childLine(input)) : kill.runningParents.contains(input)
            }.count
            if succeededRuns[id] != 1 { runViolations.append("task \(id): \(succeededRuns[id] ?? 0) succeeded runs") }
            if abandonedRuns[id, default: 0] != runningAtKills {
                runViolations.append(
                    "task \(id): \(abandonedRuns[id, default: 0]) abandoned runs, running at \(runningAtKills) kill(s)")
            }
        }
        #expect(runViolations.isEmpty, "\(runViolations.count) violation(s): \(runViolations.prefix(20))")

        // The same work on a fresh file without any kill stores the same results.
        let reference = try await Self.referenceRun(in: directory)
        #expect(try probe.storedOutcome() == reference)

        #expect(try probe.int("SELECT count(*) FROM durable_workers") == rounds.count + 1)
        #expect(try probe.int("SELECT count(*) FROM durable_workers WHERE stopped_at IS NULL") == 0)
        #expect(try probe.integrityCheck() == ["ok"])
        try probe.close()
    }

    /// Runs the same parents to the end on a fresh file with one worker, never killed.
    static func referenceRun(in directory: TemporaryDirectory) async throws -> [String] {
        let database = directory.file("reference.sqlite")
        let engine = try TaskEngine(path: database, logger: testLogger)
        let tasks = try await engine.createTasks(
            Pipeline.self, (0..<parents).map { TaskRequest($0, name: "pipeline-\($0)") })
        let ids = tasks.map(\.id.rawValue)
        let worker = try ChildProcess(
            "reference-worker",
            arguments: [
                "run", database, "--concurrency", "\(concurrency)", "--log", directory.file("reference.log"),
                "--delay-ms", "1", "--wait-ids", "\(ids.first ?? 0)-\(ids.last ?? 0)",
            ], in: directory)
        try await worker.expectCleanExit()
        let probe = try DatabaseProbe(path: database)
        defer { try? probe.close() }
        return try probe.storedOutcome()
    }
}
