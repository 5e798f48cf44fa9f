import DurableTestKit
import Durable
import Foundation
import Testing

/// Concurrent steps under SIGKILL: a `DurableTestWorker` child runs `fan-steps`
/// jobs (two steps started with `async let`, four in a task group, each after a
/// random pause), and is killed at random moments; each restart asks for the steps
/// in another order. Every step body logs "step <name> <n>" as it starts.
@Suite("Concurrent steps under SIGKILL", .serialized)
struct ConcurrentStepCrashTests {
    static let tasks = 60
    static let stepNames = ["a", "b"] + (0..<4).map { "g\($0)" }

    static func stepResult(_ name: String, of n: Int) -> Int {
        switch name {
        case "a": n
        case "b": 2 * n
        default: 10 * n + (Int(name.dropFirst()) ?? -1)
        }
    }

    @Test("concurrent steps killed at random moments: a stored step never runs again, and every task succeeds")
    func killedRepeatedly() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("fan.sqlite")
        let executionLog = directory.file("executions.log")
        let stalledLog = directory.file("stalled.log")
        let engine = try TaskEngine(path: database, logger: testLogger)
        let tasks = try await engine.createTasks(FanSteps.self, inputs: Array(0..<Self.tasks))
        let ids = tasks.map(\.id.rawValue)
        let first = try #require(ids.first)
        let last = try #require(ids.last)
        let probe = try DatabaseProbe(path: database)
        let arguments = ["run", database, "--concurrency", "16", "--log", executionLog, "--delay-ms", "6"]

        /// The step bodies stored so far, as their log lines.
        func storedSteps() throws -> Set<String> {
            let rows = try probe.rows(
                "SELECT t.input, s.name FROM durable_task_steps AS s JOIN durable_tasks AS t ON t.id = s.task_id")
            return Set(rows.map { "step \($0["name"] as String) \($0["input"] as String)" })
        }

        // Four workers, each killed while one of its bodies is in progress: after a
        // random number of bodies, the next ones stall until the kill.
        var kills: [(stored: Set<String>, executions: [String: Int])] = []
        for round in 1...4 {
            let stalledBefore = try lines(of: stalledLog).count
            let budget = Int.random(in: 15...60)
            let worker = try ChildProcess(
                "worker-\(round)",
                arguments: arguments + ["--stall-after", "\(budget)", "--stalled-log", stalledLog], in: directory)
            try await poll("a body stalls after \(budget) (worker \(round))", child: worker) {
                try lines(of: stalledLog).count > stalledBefore
            }
            try await worker.sigkill()
            kills.append((try storedSteps(), try countLines(of: executionLog)))
            #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status IN ('failed', 'cancelled')") == 0)
        }

        let finisher = try ChildProcess(
            "worker-last", arguments: arguments + ["--wait-ids", "\(first)-\(last)"], in: directory)
        let results = try await withTimeout("the tasks are gathered", .seconds(90)) {
            try await engine.gather(tasks)
        }
        #expect(results == (0..<Self.tasks).map { 43 * $0 + 6 })
        try await finisher.expectCleanExit()

        // Every step stored once, with its own result; none ran again once stored.
        let executions = try countLines(of: executionLog)
        var violations: [String] = []
        for (index, kill) in kills.enumerated() {
            for line in kill.stored where executions[line] != kill.executions[line] {
                violations.append(
                    "\(line): stored by kill \(index + 1) after \(kill.executions[line] ?? 0) run(s), "
                        + "\(executions[line] ?? 0) run(s) in the end")
            }
        }
        let rows = try probe.rows(
            "SELECT t.input, s.name, s.kind, s.status, s.result FROM durable_task_steps AS s JOIN durable_tasks AS t ON t.id = s.task_id")
        #expect(rows.count == Self.tasks * Self.stepNames.count)
        for row in rows {
            let n = Int(row["input"] as String) ?? -1
            let name: String = row["name"]
            if !Self.stepNames.contains(name) || row["kind"] as String != "step" || row["status"] as String != "succeeded"
                || row["result"] as String? != "\(Self.stepResult(name, of: n))"
            {
                violations.append("task \(n): wrong step row \(row)")
            }
        }
        let positions = try probe.int(
            "SELECT count(*) FROM (SELECT task_id, position FROM durable_task_steps GROUP BY task_id, position HAVING count(*) > 1)")
        #expect(positions == 0)
        for n in 0..<Self.tasks {
            for name in Self.stepNames where executions["step \(name) \(n)", default: 0] == 0 {
                violations.append("step \(name) \(n) never ran")
            }
        }
        #expect(violations.isEmpty, "\(violations.count) violation(s): \(violations.prefix(20))")
        #expect(kills.allSatisfy { $0.stored.count < Self.tasks * Self.stepNames.count })
        #expect(kills.last.map { !$0.stored.isEmpty } == true)
        #expect(try probe.integrityCheck() == ["ok"])
        try probe.close()
    }
}
