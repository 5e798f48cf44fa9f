public import Durable
import Foundation

// Workloads with `DurableTestWorker run` processes on the same database: this process creates
// tasks and awaits results (it runs no worker itself), the children run them.

/// Submit → result, one task at a time, with the worker in another process.
public func latencyCrossProcess(database: BenchDatabase, samples: Int, warmUp: Int = 5, durability: Durability) async throws
    -> [String: Any]
{
    let engine = try await database.makeEngine(durability: durability)
    let worker = try WorkerProcess(database: database, durability: durability.syncName, concurrency: 64)
    defer { worker.stop() }
    try await worker.waitUntilReady()
    var result = try await submitAndWait(engine, samples: samples, warmUp: warmUp).json
    result["workload"] = "latency"
    result["mode"] = "cross-process"
    result["sync"] = durability.syncName
    return result
}

/// End to end with `workers` DurableTestWorker processes on one database: once they are all
/// running, this process creates `n` no-op tasks in chunks of `chunk` and gathers
/// the results. The clock runs from the first creation to the last result
/// (`onStart` and `onStop` are called there).
public func multiProcess(
    database: BenchDatabase, workers count: Int, n: Int, durability: Durability, concurrency: Int, chunk: Int = 10_000,
    onStart: () -> Void = {}, onStop: () -> Void = {}
) async throws -> [String: Any] {
    let engine = try await database.makeEngine(durability: durability)
    var workers: [WorkerProcess] = []
    defer { for worker in workers { worker.kill9() } }
    for index in 0..<count {
        workers.append(
            try WorkerProcess(database: database, durability: durability.syncName, concurrency: concurrency, name: "w\(index)"))
    }
    for worker in workers { try await worker.waitUntilReady() }
    onStart()
    let start = monotonicNanos()
    let tasks = try await createNoops(n, chunk: chunk, on: engine)
    let created = monotonicNanos()
    let results = try await engine.gather(tasks)
    let end = monotonicNanos()
    onStop()
    try verify(results, n: n)
    let runs = workers.map { $0.stop() ?? -1 }
    workers = []
    let total = seconds(from: start, to: end)
    return [
        "workload": "multi-process", "workers": count, "n": n, "sync": durability.syncName,
        "concurrency_per_worker": concurrency, "create_s": rounded(seconds(from: start, to: created)),
        "e2e_s": rounded(total), "tasks_per_s": rounded(Double(n) / total, 1), "runs_per_worker": runs,
        "results_verified": true,
    ]
}

/// The peers' crash test: `n` tasks that each sleep 10 ms and append their input
/// to an execution log; a worker process (`concurrency` slots, 4 like the peers'
/// threads) is killed with SIGKILL `killAfter` after its first execution, then
/// started again; counts lost and re-executed tasks.
public func crash(
    database: BenchDatabase, n: Int, concurrency: Int, killAfter: Duration = .seconds(1), durability: Durability,
    timeout: Duration = .seconds(120)
) async throws -> [String: Any] {
    let log = database.scratchPrefix + ".exec.log"
    try? FileManager.default.removeItem(atPath: log)
    let engine = try await database.makeEngine(durability: durability)
    let tasks = try await engine.createTasks(Sleepy.self, inputs: Array(0..<n))

    let spawned = monotonicNanos()
    let first = try WorkerProcess(database: database, durability: durability.syncName, concurrency: concurrency, log: log)
    let deadline = ContinuousClock.now + .seconds(30)
    while executions(in: log).isEmpty {
        guard ContinuousClock.now < deadline else {
            first.kill9()
            throw BenchError("the worker ran nothing in 30 s")
        }
        try await Task.sleep(for: .milliseconds(5))
    }
    let firstExecution = monotonicNanos()
    try await Task.sleep(for: killAfter)
    first.kill9()
    let killed = monotonicNanos()
    let executionsBefore = executions(in: log)
    let storedBefore = try await engine.statistics().totals[.succeeded] ?? 0

    let restarted = monotonicNanos()
    let second = try WorkerProcess(database: database, durability: durability.syncName, concurrency: concurrency, log: log)
    defer { second.stop() }
    let outcomes = try await withThrowingTaskGroup(of: [Result<Int, any Error>]?.self) { group in
        group.addTask { try await engine.gatherResults(tasks) }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
    let finished = monotonicNanos()
    guard let outcomes else { throw BenchError("not every task finished within \(timeout) of the restart") }

    var results: [Int: Int] = [:]
    for (index, outcome) in outcomes.enumerated() {
        if case .success(let value) = outcome { results[index] = value }
    }
    let all = executions(in: log)
    let duplicated = all.filter { $0.value > 1 }
    return [
        "workload": "crash", "tasks": n, "concurrency": concurrency, "sync": durability.syncName,
        "task_sleep_s": 0.01,
        "results_stored_before_kill": storedBefore,
        "executions_logged_before_kill": executionsBefore.values.reduce(0, +),
        "results_stored_final": results.count,
        "results_missing": n - results.count,
        "results_wrong_value": results.filter { $0.key != $0.value }.count,
        "executions_total": all.values.reduce(0, +),
        "tasks_executed_at_least_once": all.count,
        "tasks_executed_more_than_once": duplicated.count,
        "extra_executions": duplicated.values.reduce(0) { $0 + $1 - 1 },
        "tasks_executed_but_no_result": all.keys.filter { results[$0] == nil }.count,
        "tasks_never_executed": n - all.count,
        "all_results_exactly_once": results.count == n && results.allSatisfy { $0.key == $0.value },
        "every_task_executed_exactly_once": all.count == n && duplicated.isEmpty,
        "spawn_to_first_exec_s": rounded(seconds(from: spawned, to: firstExecution)),
        "spawn_to_kill_s": rounded(seconds(from: spawned, to: killed)),
        "restart_to_all_results_s": rounded(seconds(from: restarted, to: finished)),
    ]
}

/// Executions per task input, from a crash-test log.
func executions(in log: String) -> [Int: Int] {
    guard let text = try? String(contentsOfFile: log, encoding: .utf8) else { return [:] }
    var counts: [Int: Int] = [:]
    for line in text.split(separator: "\n") {
        if let input = Int(line) { counts[input, default: 0] += 1 }
    }
    return counts
}
