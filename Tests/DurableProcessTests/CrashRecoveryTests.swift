import DurableTestKit
import Durable
import Foundation
import Testing

/// Real processes killed with SIGKILL: a `DurableTestWorker` child runs the tasks,
/// the test kills it mid-batch, reads the file while no process runs, and starts
/// another. Kill moments are chosen by polling the database, never by timing.
@Suite("Crash recovery with real processes", .serialized)
struct CrashRecoveryTests {
    static let concurrency = 8

    /// What the file and the execution log held right after one kill.
    struct KillSnapshot {
        var running: Set<Int64>
        var succeeded: Set<Int64>
        var executions: [Int: Int]
        /// Inputs whose run was stalled on purpose when the kill came.
        var stalled: Set<Int>
    }

    @Test(
        "a worker killed mid-batch three times loses nothing and re-runs only the tasks in flight",
        arguments: ProcessStore.all)
    func killedMidBatch(store: ProcessStore) async throws {
        let directory = TemporaryDirectory()
        let database = try store.database(in: directory, file: "crash.sqlite")
        let executionLog = directory.file("executions.log")
        let stalledLog = directory.file("stalled.log")
        let count = 1500

        // On PostgreSQL the workers' sessions carry a name of their own: after a
        // kill, the server may still finish a COMMIT the worker sent just before
        // dying, so the test looks once those sessions are gone.
        let sessions = "crash" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let workerDatabase = store == .postgres ? database + "&application_name=\(sessions)" : database
        let engine = try await openEngine(database)
        let tasks = try await engine.createTasks(CrashWork.self, inputs: Array(0..<count))
        let ids = tasks.map(\.id.rawValue)
        let first = try #require(ids.first)
        let last = try #require(ids.last)
        try #require(last - first + 1 == Int64(count), "a fresh file numbers one batch contiguously")
        let inputOf = Dictionary(uniqueKeysWithValues: zip(ids, 0..<count))
        let probe = try await SQLProbe.open(database)
        // Three rounds: start a worker, let it get through part of the batch, kill it.
        // Each worker may start only enough runs to reach its target (plus the re-runs
        // of the tasks the last kill caught); later runs stall until the kill, so a
        // worker can never finish the batch before the test, however slow the test
        // is. In rounds 1 and 3 the kill waits for a stalled run, so it certainly
        // lands on a task in flight; in round 2 it lands wherever the worker is.
        var kills: [KillSnapshot] = []
        for (round, percent) in [20, 45, 70].enumerated() {
            let target = count * percent / 100
            let succeededBefore = try await probe.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'")
            let budget = target - succeededBefore + Self.concurrency
            let stalledBefore = try lines(of: stalledLog).count
            let child = try ChildProcess(
                "worker-\(round + 1)",
                arguments: [
                    "run", workerDatabase, "--concurrency", "\(Self.concurrency)", "--log", executionLog, "--delay-ms",
                    "3", "--stall-after", "\(budget)", "--stalled-log", stalledLog,
                ], in: directory)
            try await poll("\(target) tasks succeeded", child: child) {
                try await probe.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'") >= target
            }
            let stalls = round != 1
            if stalls {
                try await poll("a run stalls", child: child) { try lines(of: stalledLog).count > stalledBefore }
            }
            try await child.sigkill()
            if store == .postgres {
                try await poll("the killed worker's sessions ended") {
                    try await probe.int(
                        "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '\(sessions) %'") == 0
                }
            }

            let snapshot = KillSnapshot(
                running: try await probe.ids("SELECT id FROM tasks WHERE status = 'running'"),
                succeeded: try await probe.ids("SELECT id FROM tasks WHERE status = 'succeeded'"),
                executions: try lineCounts(of: executionLog),
                stalled: Set(try lines(of: stalledLog).dropFirst(stalledBefore).compactMap { Int($0) }))
            kills.append(snapshot)

            // Nothing lost, nothing finished wrongly, at most one worker's worth in
            // flight: its slots, and the tasks it claimed ahead of them (at most
            // four times the slots) while its runs were short.
            #expect(try await probe.int("SELECT count(*) FROM tasks") == count)
            #expect(try await probe.int("SELECT count(*) FROM tasks WHERE status IN ('failed', 'cancelled')") == 0)
            #expect(snapshot.running.count <= Self.concurrency * 5)
            #expect(snapshot.succeeded.count >= target)
            if stalls {
                #expect(!snapshot.stalled.isEmpty)
                let stalledIDs = Set(snapshot.stalled.map { ids[$0] })
                #expect(stalledIDs.isSubset(of: snapshot.running), "a stalled run cannot have finished")
            }
            // Succeeded tasks ran at least once.
            #expect(snapshot.succeeded.allSatisfy { snapshot.executions[inputOf[$0] ?? -1, default: 0] >= 1 })
        }

        // The last worker finishes the batch and exits; this process, which runs no
        // worker, gathers the results through the change watcher.
        let finalChild = try ChildProcess(
            "worker-4",
            arguments: [
                "run", workerDatabase, "--concurrency", "\(Self.concurrency)", "--log", executionLog, "--delay-ms", "3",
                "--wait-ids", "\(first)-\(last)",
            ], in: directory)
        let results = try await withTimeout("the batch is gathered", .seconds(90)) {
            try await engine.gather(tasks)
        }
        #expect(results == (0..<count).map { $0 * 2 })
        try await finalChild.expectCleanExit()

        // One terminal state per task: succeeded, with its own result.
        let rows = try await probe.table("SELECT id, input, status, result, attempt FROM tasks ORDER BY id")
        #expect(rows.count == count)
        let wrongEndings = rows.filter { row in
            row[2] != "succeeded" || row[3] != "\((Int(row[1]) ?? -1) * 2)"
        }
        #expect(wrongEndings.isEmpty, "tasks not succeeded with twice their input: \(wrongEndings.prefix(10))")

        // Attempts: exactly one succeeded run per task; the only other rows are the
        // runs abandoned by a killed worker, one per kill that found the task running.
        let attempts = try await probe.table("SELECT task_id, attempt, outcome FROM task_attempts")
        var succeededRuns: [Int64: Int] = [:]
        var abandonedRuns: [Int64: Int] = [:]
        var otherRuns: [String] = []
        for row in attempts {
            let id = Int64(row[0]) ?? -1
            switch row[2] {
            case "succeeded": succeededRuns[id, default: 0] += 1
            case "abandoned": abandonedRuns[id, default: 0] += 1
            case let other: otherRuns.append("task \(id): \(other)")
            }
        }
        #expect(otherRuns.isEmpty, "runs neither succeeded nor abandoned: \(otherRuns.prefix(20))")
        let storedAttempts = Dictionary(uniqueKeysWithValues: rows.map { (Int64($0[0]) ?? -1, Int($0[4]) ?? -1) })
        let finalExecutions = try lineCounts(of: executionLog)
        var violations: [String] = []
        for id in ids {
            let input = inputOf[id] ?? -1
            let runningAtKills = kills.filter { $0.running.contains(id) }.count
            let executions = finalExecutions[input, default: 0]
            if succeededRuns[id] != 1 { violations.append("task \(id): \(succeededRuns[id] ?? 0) succeeded runs") }
            if abandonedRuns[id, default: 0] != runningAtKills {
                violations.append(
                    "task \(id): \(abandonedRuns[id, default: 0]) abandoned runs, running at \(runningAtKills) kill(s)")
            }
            if storedAttempts[id] != 1 + runningAtKills {
                violations.append(
                    "task \(id): attempt \(storedAttempts[id] ?? 0), running at \(runningAtKills) kill(s)")
            }
            // A job runs at least once, and again only after a kill caught it in flight.
            if executions < 1 || executions > 1 + runningAtKills {
                violations.append("task \(id): ran \(executions) time(s), running at \(runningAtKills) kill(s)")
            }
        }
        // Finished results are not recomputed: a task succeeded at a kill never ran again.
        for (index, kill) in kills.enumerated() {
            for id in kill.succeeded.sorted() {
                let input = inputOf[id] ?? -1
                if finalExecutions[input, default: 0] != kill.executions[input, default: 0] {
                    violations.append("task \(id): succeeded before kill \(index + 1), but ran again")
                }
            }
            // A stalled run was cut short by the kill, so its task ran again later.
            for input in kill.stalled.sorted() where finalExecutions[input, default: 0] < 2 {
                violations.append("task \(ids[input]): stalled at kill \(index + 1), but did not run again")
            }
        }
        #expect(violations.isEmpty, "\(violations.count) violation(s): \(violations.prefix(20))")
        let duplicates = finalExecutions.values.reduce(0, +) - count
        #expect(duplicates <= kills.reduce(0) { $0 + $1.running.count })
        // Per kill, at most what the worker held: its slots and what it claimed ahead.
        #expect(duplicates <= kills.count * Self.concurrency * 5)

        // Every killed worker was found dead on this host at once (never by a lease
        // expiry) and marked stopped.
        #expect(try await probe.int("SELECT count(*) FROM workers") == 4)
        #expect(try await probe.int("SELECT count(*) FROM workers WHERE stopped_at IS NULL") == 0)
        #expect(try await probe.int("SELECT count(*) FROM task_attempts WHERE error LIKE '%lease%'") == 0)
        await probe.close()
        if store == .sqlite {
            let file = try DatabaseProbe(path: database)
            #expect(try file.integrityCheck() == ["ok"])
            try file.close()
        }
    }

    @Test("a task cancelled while no process runs it ends cancelled with its message at the next start")
    func cancelledWhileDown() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("cancel-down.sqlite")
        let executionLog = directory.file("executions.log")
        let message = "cancelled while no worker was running"

        let engine = try TaskEngine(path: database, logger: testLogger)
        let sleeper = try await engine.createTask(Sleeper.self, "long-sleep")
        let child = try ChildProcess(
            "worker-1", arguments: ["run", database, "--log", executionLog], in: directory)
        try await poll("the sleeper runs", child: child) {
            try lines(of: executionLog) == ["long-sleep"]
        }
        try await child.sigkill()

        // The owner is dead and nobody has noticed: the request is stored.
        #expect(try await sleeper.cancel(message: message))
        let stored = try await engine.record(of: sleeper.id)
        #expect(stored.status == .running)
        #expect(stored.cancelRequestedAt != nil)
        #expect(stored.cancelMessage == message)

        // A pending task cancelled with no worker at all never starts.
        let pending = try await engine.createTask(Sleeper.self, "never-runs")
        #expect(try await pending.cancel(message: "not needed"))
        #expect(try await pending.status() == .cancelled)

        // The next worker's recovery ends the task cancelled; the waiter here sees it.
        let restarted = try ChildProcess(
            "worker-2",
            arguments: ["run", database, "--log", executionLog, "--wait-ids", "\(sleeper.id)-\(pending.id)"],
            in: directory)
        let error = await #expect(throws: CancelledError.self) {
            try await withTimeout("the sleeper ends") { try await sleeper.value }
        }
        #expect(error?.message == message)
        #expect(error?.taskID == sleeper.id)
        try await restarted.expectCleanExit()

        let pendingError = await #expect(throws: CancelledError.self) { try await pending.value }
        #expect(pendingError?.message == "not needed")
        #expect(try lines(of: executionLog) == ["long-sleep"], "neither task may run after the restart")

        let probe = try DatabaseProbe(path: database)
        let attempts = try probe.rows("SELECT task_id, attempt, outcome FROM durable_task_attempts ORDER BY task_id, attempt")
        #expect(attempts.count == 1)
        #expect(attempts.first?["task_id"] as Int64? == sleeper.id.rawValue)
        #expect(attempts.first?["attempt"] as Int? == 1)
        #expect(attempts.first?["outcome"] as String? == "abandoned")
        let final = try await engine.record(of: sleeper.id)
        #expect(final.status == .cancelled)
        #expect(final.owner == nil)
        #expect(final.error?.kind == .cancelled)
        #expect(try await engine.record(of: pending.id).attempt == 0)
        #expect(try probe.integrityCheck() == ["ok"])
        try probe.close()
    }

    @Test("tasks acknowledged before a SIGKILL survive it, and resubmitting with keys adds no duplicates")
    func killedWhileSubmitting() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("submit.sqlite")
        let firstAcks = directory.file("acks-1.log")
        let secondAcks = directory.file("acks-2.log")

        // One task per commit, paced so that the kill lands mid-batch on any disk.
        let submitter = try ChildProcess(
            "submitter-1",
            arguments: ["submit", database, "--count", "1000", "--ack", firstAcks, "--delay-ms", "2"],
            in: directory)
        try await poll("100 tasks are acknowledged", child: submitter) { try lines(of: firstAcks).count >= 100 }
        try await submitter.sigkill()

        let acknowledged = try lineCounts(of: firstAcks)
        let maxAcknowledged = try #require(acknowledged.keys.max())
        #expect(acknowledged.count == maxAcknowledged + 1 && acknowledged.values.allSatisfy { $0 == 1 })
        let probe = try DatabaseProbe(path: database)
        let stored = try probe.rows("SELECT key, input FROM durable_tasks")
        let storedInputs = Dictionary(uniqueKeysWithValues: stored.map { ($0["key"] as String, $0["input"] as String) })
        for i in acknowledged.keys {
            #expect(storedInputs["submit-\(i)"] == "\(i)", "acknowledged task \(i) was lost")
        }
        // At most the one creation between its commit and its acknowledgement is extra.
        #expect(stored.count == acknowledged.count || stored.count == acknowledged.count + 1)

        // Submitting again from the start returns the stored tasks for the old keys.
        let total = maxAcknowledged + 51
        let resubmitter = try ChildProcess(
            "submitter-2",
            arguments: ["submit", database, "--count", "\(total)", "--ack", secondAcks, "--delay-ms", "0"],
            in: directory)
        try await resubmitter.expectCleanExit()
        #expect(try lineCounts(of: secondAcks) == Dictionary(uniqueKeysWithValues: (0..<total).map { ($0, 1) }))
        let after = try probe.rows("SELECT key, input FROM durable_tasks ORDER BY id")
        #expect(after.count == total)
        #expect(Set(after.map { $0["key"] as String }) == Set((0..<total).map { "submit-\($0)" }))
        #expect(after.allSatisfy { ($0["key"] as String) == "submit-\($0["input"] as String)" })
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status != 'pending'") == 0)
        #expect(try probe.integrityCheck() == ["ok"])
        try probe.close()
    }
}
