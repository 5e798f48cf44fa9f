import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// Durable sleep under SIGKILL: `napper` jobs killed while they sleep durably.
extension StepCrashTests {
    @Test("a job killed during a durable sleep keeps its wake-up time and does not re-run the steps before it")
    func killedWhileSleeping() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("sleep.sqlite")
        let executionLog = directory.file("executions.log")
        let count = 8
        // Ten minutes: no kill can come too late. The last worker's clock runs that far
        // ahead instead of the test waiting.
        let nap = 600_000

        let engine = try TaskEngine(path: database, logger: testLogger)
        let tasks = try await engine.createTasks(Napper.self, inputs: Array(0..<count))
        let ids = tasks.map(\.id.rawValue)
        let first = try #require(ids.first)
        let last = try #require(ids.last)
        let probe = try DatabaseProbe(path: database)
        func arguments(suspendAfter milliseconds: Int, clockAhead: Int = 0) -> [String] {
            [
                "run", database, "--log", executionLog, "--nap-ms", "\(nap)",
                "--sleep-suspend-ms", "\(milliseconds)", "--clock-offset-ms", "\(clockAhead)",
            ]
        }
        /// The stored sleeps by task: position, wake-up time, the run that stored it.
        func sleeps() throws -> [Int64: String] {
            var sleeps: [Int64: String] = [:]
            let rows = try probe.rows(
                "SELECT task_id, position, result, attempt FROM durable_task_steps WHERE kind = 'sleep'")
            for row in rows {
                sleeps[row["task_id"] as Int64] =
                    "position \(row["position"] as Int) wake \(row["result"] as String? ?? "nil") "
                    + "attempt \(row["attempt"] as Int)"
            }
            return sleeps
        }
        func wakeTimes() throws -> [Int64: Int64] {
            var wakes: [Int64: Int64] = [:]
            for row in try probe.rows("SELECT task_id, result FROM durable_task_steps WHERE kind = 'sleep'") {
                wakes[row["task_id"] as Int64] = Int64(row["result"] as String? ?? "")
            }
            return wakes
        }
        let befores = Dictionary(uniqueKeysWithValues: (0..<count).map { ("step before \($0)", 1) })

        // 1. The sleep is shorter than the suspend threshold: each job sleeps in place,
        // holding its slot, when the kill comes.
        let sleeper = try ChildProcess("worker-1", arguments: arguments(suspendAfter: 2 * nap), in: directory)
        try await poll("every task sleeps in place", child: sleeper) {
            try probe.int("SELECT count(*) FROM durable_task_steps WHERE kind = 'sleep'") == count
        }
        try await sleeper.sigkill()
        let slept = try sleeps()
        let wakes = try wakeTimes()
        #expect(try countLines(of: executionLog) == befores, "only the steps before the sleep ran, once each")
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'running' AND attempt = 1") == count)
        #expect(slept.count == count && slept.values.allSatisfy { $0.hasPrefix("position 1 ") }, "\(slept)")
        #expect(slept.values.allSatisfy { $0.hasSuffix("attempt 1") })

        // 2. Restarted with a small threshold: each re-run replays the first step and
        // the stored sleep, whose remaining time now suspends the task until the
        // stored wake-up time. Killed while the tasks are suspended.
        let suspender = try ChildProcess("worker-2", arguments: arguments(suspendAfter: 50), in: directory)
        try await poll("every task is suspended until its stored wake-up time", child: suspender) {
            let suspended = try probe.rows("SELECT id, run_at FROM durable_tasks WHERE status = 'pending' AND attempt = 2")
            return suspended.count == count
                && suspended.allSatisfy { wakes[$0["id"] as Int64] == $0["run_at"] as Int64 }
        }
        try await suspender.sigkill()
        #expect(try sleeps() == slept, "the restart did not start the sleeps over")
        #expect(try countLines(of: executionLog) == befores, "the steps before the sleep were not run again")

        // 3. The last worker, its clock past the stored wake-up times, runs the tasks
        // to the end: the sleeps end at the times stored before the first kill.
        let finisher = try ChildProcess(
            "worker-3",
            arguments: arguments(suspendAfter: 50, clockAhead: nap + 60_000) + ["--wait-ids", "\(first)-\(last)"],
            in: directory)
        let results = try await withTimeout("the nappers are gathered", .seconds(60)) {
            try await engine.gather(tasks)
        }
        #expect(results == (0..<count).map { $0 * 3 })
        try await finisher.expectCleanExit()

        var expectedLines = befores
        for n in 0..<count { expectedLines["step after \(n)"] = 1 }
        #expect(try countLines(of: executionLog) == expectedLines, "each step body ran exactly once")
        #expect(try sleeps() == slept, "the sleeps were never stored again")
        for row in try probe.rows("SELECT task_id, name, position, created_at FROM durable_task_steps WHERE name = 'after'") {
            let id: Int64 = row["task_id"]
            #expect(row["position"] as Int == 2)
            #expect(row["created_at"] as Int64 >= wakes[id] ?? .max, "task \(id) woke before its stored time")
        }
        let attempts = try probe.rows("SELECT task_id, attempt, outcome FROM durable_task_attempts ORDER BY task_id, attempt")
        let outcomes = Dictionary(grouping: attempts, by: { $0["task_id"] as Int64 }).mapValues { rows in
            rows.map { "\($0["attempt"] as Int) \($0["outcome"] as String)" }
        }
        #expect(outcomes.count == count)
        #expect(outcomes.values.allSatisfy { $0 == ["1 abandoned", "2 suspended", "3 succeeded"] }, "\(outcomes)")
        #expect(try probe.int("SELECT count(*) FROM durable_workers WHERE stopped_at IS NULL") == 0)
        #expect(try probe.integrityCheck() == ["ok"])
        try probe.close()
    }
}
