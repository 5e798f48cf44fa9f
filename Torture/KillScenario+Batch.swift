import Durable
import DurableTestKit
import Foundation

// The kill scenario's batch: creating it, the crash-free reference, the final checks.
extension KillScenario {
    struct Item: Sendable {
        var job: String
        var input: Int
    }

    /// Creates the batch on a fresh database (an SQLite file or a PostgreSQL schema's
    /// URL), interleaving pipelines and plain tasks in chunks; returns the top-level
    /// tasks in id order (ids 1...N).
    static func submitBatch(_ database: String, pipelines: Int, plains: Int) async throws -> [Item] {
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
        try await create(order, in: database)
        let stored = try await withProbe(database) { try await $0.table("SELECT id, job, input FROM tasks ORDER BY id") }
        guard stored.count == order.count,
            zip(stored, order).enumerated().allSatisfy({ index, pair in
                pair.0 == ["\(index + 1)", pair.1.job, "\(pair.1.input)"]
            })
        else {
            throw TortureFailure("the batch was not stored as ids 1...\(order.count) in submission order")
        }
        return order
    }

    /// Creates the tasks of `order` in that order on `database` (a file or a URL).
    static func create(_ order: [Item], in database: String) async throws {
        let engine = try await openEngine(database, logger: quietLogger)
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
        _ probe: SQLProbe, pipelines: Int, plains: Int, pipelineIDs: [Int: Int64], runningAtKills: Set<String>
    ) async throws -> [String] {
        var violations: [String] = []
        // Text columns (SQLProbe): NULL reads as "".
        let rows = try await probe.table("SELECT id, job, input, status, result, completion_seq, parent_id FROM tasks")
        let expectedCount = pipelines * (1 + Expected.childrenPerParent) + plains
        if rows.count != expectedCount { violations.append("\(rows.count) tasks stored, \(expectedCount) expected") }
        var sequences = Set<Int64>()
        var children: [Int64: [Int]] = [:]
        for row in rows {
            let id = Int64(row[0]) ?? -1
            let job = row[1]
            let input = Int(row[2]) ?? -1
            let status = row[3]
            let result = row[4]
            let expected: Int
            switch job {
            case Pipeline.name: expected = Expected.pipeline(input)
            case Leaf.name: expected = Expected.leaf(input)
            case Plain.name: expected = Expected.plain(input)
            default:
                violations.append("task \(id) has the unexpected job \(job)")
                continue
            }
            if status != "succeeded" || result != "\(expected)" {
                violations.append(
                    "task \(id) (\(job) \(input)): \(status) with \(result.isEmpty ? "nil" : result), "
                        + "expected succeeded with \(expected)")
            }
            if let sequence = Int64(row[5]) {
                if !sequences.insert(sequence).inserted { violations.append("task \(id): completion_seq \(sequence) twice") }
            } else {
                violations.append("task \(id): no completion_seq")
            }
            if job == Leaf.name {
                if let parent = Int64(row[6]) { children[parent, default: []].append(input) } else {
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
        let steps = try await probe.table(
            "SELECT t.input, s.position, s.name, s.result FROM task_steps s JOIN tasks t ON t.id = s.task_id")
        if steps.count != pipelines * Expected.stepNames.count {
            violations.append("\(steps.count) step rows, \(pipelines * Expected.stepNames.count) expected")
        }
        for row in steps {
            let n = Int(row[0]) ?? -1
            let name = row[2]
            if Expected.stepNames.firstIndex(of: name) != Int(row[1]) || row[3] != "\(Expected.step(name, of: n))" {
                violations.append("pipeline \(n): wrong step row (position, name, result) \(row.dropFirst())")
            }
        }
        // Attempts: one succeeded per task; the others are exactly the runs stored as
        // running at a kill, recovered as abandoned.
        var succeeded: [Int64: Int] = [:]
        var abandoned = Set<String>()
        for row in try await probe.table("SELECT task_id, attempt, outcome FROM task_attempts") {
            let id = Int64(row[0]) ?? -1
            switch row[2] {
            case "succeeded": succeeded[id, default: 0] += 1
            case "abandoned": abandoned.insert("\(id):\(row[1])")
            case let other: violations.append("task \(id) attempt \(row[1]): \(other)")
            }
        }
        for id in rows.map({ Int64($0[0]) ?? -1 }) where succeeded[id] != 1 {
            violations.append("task \(id): \(succeeded[id] ?? 0) succeeded attempts")
        }
        let unexplained = abandoned.subtracting(runningAtKills)
        let unrecovered = runningAtKills.subtracting(abandoned)
        if !unexplained.isEmpty {
            violations.append("abandoned attempts never seen running at a kill: \(unexplained.sorted().prefix(10))")
        }
        if !unrecovered.isEmpty {
            violations.append("runs stored as running at a kill but not recorded abandoned: \(unrecovered.sorted().prefix(10))")
        }
        let unstopped = try await probe.int("SELECT count(*) FROM workers WHERE stopped_at IS NULL")
        if unstopped != 0 { violations.append("\(unstopped) worker rows not marked stopped") }
        return violations
    }

    /// The same batch run to the end in this process on a fresh SQLite file, never
    /// killed (on either store: the outcome does not depend on the store).
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
        return try await withProbe(path) { try await $0.storedOutcome() }
    }
}
