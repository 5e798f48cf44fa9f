import Durable
import DurableTestKit
import Foundation
import GRDB

// The kill scenario's batch: creating it, the crash-free reference, the final checks.
extension KillScenario {
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
        let probe = try DatabaseProbe(path: path)
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
        _ probe: DatabaseProbe, pipelines: Int, plains: Int, pipelineIDs: [Int: Int64], runningAtKills: Set<String>
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

    /// The same batch run to the end in this process on a fresh file, never killed.
    static func referenceOutcome(_ folder: Folder, order: [Item]) async throws -> [String] {
        let path = folder.file("reference.sqlite")
        try await create(order, in: path)
        var configuration = EngineConfiguration()
        var sqlite = SQLiteConfiguration()
        sqlite.durability = .processCrashSafe
        configuration.maxConcurrentTasks = 64
        let engine = try TaskEngine(path: path, configuration: configuration, sqlite: sqlite, logger: quietLogger)
        registerTortureJobs(on: engine, work: Workload())
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
        let probe = try DatabaseProbe(path: path)
        defer { try? probe.close() }
        return try probe.storedOutcome()
    }
}
