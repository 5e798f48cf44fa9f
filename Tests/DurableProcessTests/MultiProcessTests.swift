import DurableTestKit
import Durable
import Foundation
import Testing

/// Several `DurableTestWorker` processes on one database file, with the test
/// process submitting, waiting and cancelling through its own engine (which runs
/// no worker, so everything it learns comes through the cross-process watcher).
@Suite("Several processes on one file", .serialized)
struct MultiProcessTests {
    @Test("three worker processes run one batch: each task runs once; a waiter in a fourth process gets the results")
    func threeWorkers() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("shared.sqlite")
        let executionLog = directory.file("executions.log")
        let count = 1500

        // The workers open the new file at the same moment (each applies or finds
        // the schema), then wait for tasks 1...count to exist.
        let workers = try (1...3).map { number in
            try ChildProcess(
                "worker-\(number)",
                arguments: [
                    "run", database, "--concurrency", "8", "--log", executionLog, "--delay-ms", "1",
                    "--wait-ids", "1-\(count)",
                ],
                in: directory)
        }
        try await poll("a worker creates the file") { FileManager.default.fileExists(atPath: database) }
        let engine = try TaskEngine(path: database, logger: testLogger)
        let probe = try DatabaseProbe(path: database)
        try await poll("three workers are registered") {
            for worker in workers { try worker.requireRunning() }
            return try probe.int("SELECT count(*) FROM durable_workers WHERE stopped_at IS NULL") == 3
        }

        let tasks = try await engine.createTasks(CrashWork.self, inputs: Array(0..<count))
        try #require(tasks.map(\.id.rawValue) == Array(1...Int64(count)), "a fresh file numbers the batch 1...count")
        let results = try await withTimeout("the batch is gathered", .seconds(90)) {
            try await engine.gather(tasks)
        }
        #expect(results == (0..<count).map { $0 * 2 })
        for worker in workers { try await worker.expectCleanExit() }

        // One run per task: claimed once (attempt 1), one succeeded attempt row, no
        // abandoned or interrupted runs since no process died, one execution each.
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded' AND attempt = 1") == count)
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE result IS NOT CAST(input * 2 AS TEXT)") == 0)
        #expect(try probe.int("SELECT count(*) FROM durable_task_attempts") == count)
        #expect(
            try probe.int("SELECT count(*) FROM durable_task_attempts WHERE outcome = 'succeeded' AND attempt = 1") == count)
        #expect(try probe.int("SELECT count(DISTINCT task_id) FROM durable_task_attempts") == count)
        #expect(try probe.int("SELECT count(*) FROM durable_task_attempts WHERE outcome = 'abandoned'") == 0)
        #expect(try lineCounts(of: executionLog) == Dictionary(uniqueKeysWithValues: (0..<count).map { ($0, 1) }))

        // Every run was by one of the three workers, which all stopped cleanly.
        let workerIDs = try probe.strings("SELECT id FROM durable_workers")
        #expect(workerIDs.count == 3)
        #expect(try probe.int("SELECT count(*) FROM durable_workers WHERE stopped_at IS NULL") == 0)
        let owners = try probe.strings("SELECT DISTINCT owner FROM durable_task_attempts")
        #expect(Set(owners).isSubset(of: Set(workerIDs)))
        #expect(try probe.int("SELECT count(*) FROM durable_migrations") >= 1)
        #expect(try probe.integrityCheck() == ["ok"])
        try probe.close()
    }

    @Test("a worker killed while two others run: the survivors take over its tasks, and finished ones stay finished")
    func survivorsTakeOver() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("takeover.sqlite")
        let executionLog = directory.file("executions.log")
        let victimStall = directory.file("victim-stall")
        let victimStalled = directory.file("victim-stalled.log")
        let count = 1500

        let engine = try TaskEngine(path: database, logger: testLogger)
        let tasks = try await engine.createTasks(CrashWork.self, inputs: Array(0..<count))
        let ids = tasks.map(\.id.rawValue)
        try #require(ids == Array(1...Int64(count)), "a fresh file numbers the batch 1...count")
        let probe = try DatabaseProbe(path: database)
        let common = [
            "run", database, "--concurrency", "8", "--log", executionLog, "--delay-ms", "2",
            "--recovery-interval-ms", "100",
        ]
        // Only the victim stalls (on its own stall file, there from the start), so
        // the batch cannot finish without taking its tasks over, and the kill
        // certainly catches its runs in flight. The victim runs until killed.
        #expect(FileManager.default.createFile(atPath: victimStall, contents: nil))
        let victim = try ChildProcess(
            "victim", arguments: common + ["--stall-file", victimStall, "--stalled-log", victimStalled], in: directory)
        let survivors = try (1...2).map {
            try ChildProcess("survivor-\($0)", arguments: common + ["--wait-ids", "1-\(count)"], in: directory)
        }
        try await poll("three workers are registered", child: victim) {
            try probe.int("SELECT count(*) FROM durable_workers WHERE stopped_at IS NULL") == 3
        }
        try await poll("a third of the batch succeeded", child: victim) {
            try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded'") >= count / 3
        }
        try await poll("one of the victim's runs stalls", child: victim) { try !lines(of: victimStalled).isEmpty }
        try await victim.sigkill()
        // Read in this order: a task succeeded now has all its runs logged already.
        let succeededAtKill = try probe.ids("SELECT id FROM durable_tasks WHERE status = 'succeeded'")
        let executionsAtKill = try lineCounts(of: executionLog)
        let stalled = try lineCounts(of: victimStalled)

        let results = try await withTimeout("the batch is gathered", .seconds(90)) {
            try await engine.gather(tasks)
        }
        #expect(results == (0..<count).map { $0 * 2 })
        for survivor in survivors { try await survivor.expectCleanExit() }

        let victimID = try #require(
            try probe.strings("SELECT id FROM durable_workers WHERE pid = ?", [victim.pid]).first, "the victim's worker row")
        #expect(try probe.int("SELECT count(*) FROM durable_workers WHERE stopped_at IS NULL") == 0)

        // Each task succeeded once, in its latest attempt; the only other runs are the
        // victim's, abandoned at most once per task and at most one worker's worth.
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded'") == count)
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE result IS NOT CAST(input * 2 AS TEXT)") == 0)
        #expect(
            try probe.int(
                """
                SELECT count(*) FROM durable_tasks AS t
                WHERE (SELECT count(*) FROM durable_task_attempts AS a WHERE a.task_id = t.id AND a.outcome = 'succeeded'
                       AND a.attempt = t.attempt) != 1
                """) == 0)
        #expect(
            try probe.int("SELECT count(*) FROM durable_task_attempts WHERE outcome NOT IN ('succeeded', 'abandoned')") == 0)
        let abandoned = try probe.rows("SELECT task_id, owner FROM durable_task_attempts WHERE outcome = 'abandoned'")
        #expect(abandoned.count <= 8)
        #expect(abandoned.allSatisfy { $0["owner"] as String == victimID })
        let abandonedIDs = Set(abandoned.map { $0["task_id"] as Int64 })
        #expect(abandonedIDs.count == abandoned.count)
        let stalledIDs = Set(stalled.keys.map { Int64($0 + 1) })
        #expect(stalledIDs.isSubset(of: abandonedIDs), "a stalled run cannot have finished")
        #expect(
            try probe.int(
                """
                SELECT count(*) FROM durable_tasks
                WHERE attempt != 1 + (SELECT count(*) FROM durable_task_attempts
                                      WHERE task_id = durable_tasks.id AND outcome = 'abandoned')
                """) == 0)

        // Runs: once per task, plus at most once more for a task the victim abandoned;
        // a task succeeded at the kill never ran again.
        let executions = try lineCounts(of: executionLog)
        var violations: [String] = []
        for input in 0..<count {
            let id = Int64(input + 1)
            let runs = executions[input, default: 0]
            let allowed = abandonedIDs.contains(id) ? 2 : 1
            if runs < 1 || runs > allowed { violations.append("task \(id) ran \(runs) time(s)") }
            if succeededAtKill.contains(id), runs != executionsAtKill[input, default: 0] {
                violations.append("task \(id) had succeeded before the kill, but ran again")
            }
        }
        for input in stalled.keys.sorted() where executions[input, default: 0] != 2 {
            violations.append("stalled task \(input + 1) ran \(executions[input, default: 0]) time(s), not 2")
        }
        #expect(violations.isEmpty, "\(violations.count) violation(s): \(violations.prefix(20))")
        #expect(try probe.integrityCheck() == ["ok"])
        try probe.close()
    }

    @Test("cancelling from one process stops a task running in another, with the message")
    func crossProcessCancel() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("cancel.sqlite")
        let executionLog = directory.file("executions.log")
        let message = "stopped by the test process"

        let engine = try TaskEngine(path: database, logger: testLogger)
        let sleeper = try await engine.createTask(Sleeper.self, "sleeping")
        let others = try await engine.createTasks(CrashWork.self, inputs: Array(0..<10))
        let last = try #require(others.last)
        let worker = try ChildProcess(
            "worker",
            arguments: ["run", database, "--log", executionLog, "--wait-ids", "\(sleeper.id)-\(last.id)"],
            in: directory)
        try await poll("the sleeper runs in the worker", child: worker) {
            try lines(of: executionLog).contains("sleeping")
        }
        #expect(try await sleeper.status() == .running)

        #expect(try await sleeper.cancel(message: message))
        let error = await #expect(throws: CancelledError.self) {
            try await withTimeout("the cancelled task ends") { try await sleeper.value }
        }
        #expect(error?.message == message)
        #expect(error?.taskID == sleeper.id)
        let otherResults = try await withTimeout("the other tasks end") { try await engine.gather(others) }
        #expect(otherResults == (0..<10).map { $0 * 2 })
        try await worker.expectCleanExit()

        let record = try await engine.record(of: sleeper.id)
        #expect(record.status == .cancelled)
        #expect(record.cancelMessage == message)
        #expect(record.attempt == 1)
        let probe = try DatabaseProbe(path: database)
        let attempts = try probe.rows(
            "SELECT attempt, outcome FROM durable_task_attempts WHERE task_id = ?", [sleeper.id.rawValue])
        #expect(attempts.count == 1)
        #expect(attempts.first?["outcome"] as String? == "cancelled")
        #expect(try lines(of: executionLog).filter { $0 == "sleeping" }.count == 1)
        #expect(try probe.integrityCheck() == ["ok"])
        try probe.close()
    }
}
