public import Durable
import Foundation

// The single-process workloads. Each opens its own engine on the database it is given
// and returns what it measured as a JSON-ready dictionary (times in seconds unless
// the key says otherwise). The package-benchmark suites and `DurableBench` share them.

/// End to end: `n` no-op tasks created in chunks of `chunk` (each one
/// `createTasks` transaction) while a worker runs, then `gather`ed, each result
/// checked against its input. The clock runs from the first creation until the
/// worker has drained and stopped.
public func endToEnd(
    database: BenchDatabase, n: Int, durability: Durability, concurrency: Int, chunk: Int = 10_000
) async throws -> [String: Any] {
    let engine = try await database.makeEngine(durability: durability, concurrency: concurrency)
    engine.register(Noop())
    let start = monotonicNanos()
    let (created, gathered) = try await engine.run { engine in
        let tasks = try await BenchDatabase.traced(engine) { try await createNoops(n, chunk: chunk, on: engine) }
        let created = monotonicNanos()
        let results = try await engine.gather(tasks)
        try verify(results, n: n)
        return (created, monotonicNanos())
    }
    let end = monotonicNanos()
    let total = seconds(from: start, to: end)
    return [
        "workload": "e2e", "n": n, "sync": durability.syncName, "concurrency": concurrency, "chunk": chunk,
        "observed": BenchDatabase.observes,
        "create_s": rounded(seconds(from: start, to: created)),
        "gathered_s": rounded(seconds(from: start, to: gathered)),
        "e2e_s": rounded(total), "tasks_per_s": rounded(Double(n) / total, 1), "results_verified": true,
    ]
}

/// End to end as the peers' scripts measure it: the worker is warmed up with one
/// task, then `n` tasks are created one at a time (one commit each) while it runs,
/// and the clock stops when every result is stored (then they are read back and
/// checked).
public func endToEndOneByOne(database: BenchDatabase, n: Int, durability: Durability, concurrency: Int) async throws
    -> [String: Any]
{
    let engine = try await database.makeEngine(durability: durability, concurrency: concurrency)
    engine.register(Noop())
    let (start, created, end) = try await engine.run { engine in
        _ = try await engine.createTask(Noop.self, -1).value
        let start = monotonicNanos()
        var tasks: [DurableTask<Int>] = []
        tasks.reserveCapacity(n)
        for i in 0..<n { tasks.append(try await engine.createTask(Noop.self, i)) }
        let created = monotonicNanos()
        let results = try await engine.gather(tasks)
        let end = monotonicNanos()
        try verify(results, n: n)
        return (start, created, end)
    }
    let total = seconds(from: start, to: end)
    return [
        "workload": "e2e-one-by-one", "n": n, "sync": durability.syncName, "concurrency": concurrency,
        "enqueue_s": rounded(seconds(from: start, to: created)), "e2e_s": rounded(total),
        "tasks_per_s": rounded(Double(n) / total, 1), "results_verified": true,
    ]
}

/// Creates no-op tasks 0..<n, `chunk` per `createTasks` transaction.
func createNoops(_ n: Int, chunk: Int, on engine: TaskEngine) async throws -> [DurableTask<Int>] {
    var tasks: [DurableTask<Int>] = []
    tasks.reserveCapacity(n)
    for first in stride(from: 0, to: n, by: chunk) {
        tasks += try await engine.createTasks(Noop.self, inputs: Array(first..<min(n, first + chunk)))
    }
    return tasks
}

func verify(_ results: [Int], n: Int) throws {
    guard results.count == n else { throw BenchError("gather returned \(results.count) results for \(n) tasks") }
    for (index, value) in results.enumerated() where value != index {
        throw BenchError("task \(index) returned \(value)")
    }
}

/// Enqueue only (no worker): `n` tasks, one `createTask` commit each when
/// `batch` is 1, else `createTasks` transactions of `batch` tasks.
public func enqueue(database: BenchDatabase, n: Int, batch: Int, durability: Durability) async throws -> [String: Any] {
    let engine = try await database.makeEngine(durability: durability)
    let start = monotonicNanos()
    if batch <= 1 {
        for i in 0..<n { try await engine.createTask(Noop.self, i) }
    } else {
        for first in stride(from: 0, to: n, by: batch) {
            try await engine.createTasks(Noop.self, inputs: Array(first..<min(n, first + batch)))
        }
    }
    let total = seconds(from: start, to: monotonicNanos())
    let pending = try await engine.statistics().totals[.pending] ?? 0
    guard pending == n else { throw BenchError("\(pending) tasks pending after enqueueing \(n)") }
    return [
        "workload": "enqueue", "n": n, "batch": batch, "sync": durability.syncName,
        "seconds": rounded(total), "tasks_per_s": rounded(Double(n) / total, 1), "stored_pending": pending,
    ]
}

/// Submit → result, one task at a time, with the worker in this process.
/// `warmUp` tasks run first and are not counted.
public func latencyInProcess(database: BenchDatabase, samples: Int, warmUp: Int = 5, durability: Durability) async throws
    -> [String: Any]
{
    let engine = try await database.makeEngine(durability: durability, concurrency: 64)
    engine.register(Noop())
    let summary = try await engine.run { engine in
        try await submitAndWait(engine, samples: samples, warmUp: warmUp)
    }
    var result = summary.json
    result["workload"] = "latency"
    result["mode"] = "in-process"
    result["sync"] = durability.syncName
    return result
}

/// Creates one task at a time and waits for its result; the durations, from
/// before `createTask` to the result in hand.
public func submitAndWait(_ engine: TaskEngine, samples: Int, warmUp: Int) async throws -> LatencySummary {
    for i in 0..<warmUp {
        _ = try await engine.createTask(Noop.self, -1 - i).value
    }
    var durations: [Double] = []
    durations.reserveCapacity(samples)
    for i in 0..<samples {
        let start = monotonicNanos()
        let value = try await engine.createTask(Noop.self, i).value
        durations.append(seconds(from: start, to: monotonicNanos()))
        guard value == i else { throw BenchError("task \(i) returned \(value)") }
    }
    return LatencySummary(samples: durations)
}

/// Restart: opens a database holding `pending` pending no-op tasks and runs a worker
/// until `runUntil` tasks have run (all of them by default). Measures the time
/// from opening the database to the first task running and to the worker having
/// stored everything and stopped, and this process's peak RSS.
public func restart(
    database: BenchDatabase, pending: Int, runUntil: Int? = nil, durability: Durability, concurrency: Int
) async throws -> [String: Any] {
    let target = runUntil ?? pending
    let counter = RunCounter()
    let start = monotonicNanos()
    let engine = try await database.makeEngine(durability: durability, concurrency: concurrency)
    engine.register(Noop(counter: counter))
    let opened = monotonicNanos()
    try await engine.run { _ in
        while counter.count < target {
            try await Task.sleep(for: .milliseconds(1))
        }
    }
    let end = monotonicNanos()
    let peak = residentMemory()?.peak ?? 0
    guard let first = counter.firstRun else { throw BenchError("no task ran") }
    let total = seconds(from: start, to: end)
    var result: [String: Any] = [
        "workload": "restart", "pending": pending, "ran": counter.count, "sync": durability.syncName,
        "concurrency": concurrency,
        "open_ms": milliseconds(seconds(from: start, to: opened)),
        "first_task_ms": milliseconds(seconds(from: start, to: first)),
        "until_done_s": rounded(total),
        "tasks_per_s": rounded(Double(counter.count) / total, 1),
        "peak_rss_mb": rounded(Double(peak) / 1_048_576, 1),
    ]
    if target == pending {
        let succeeded = try await engine.statistics().totals[.succeeded] ?? 0
        guard succeeded == pending else { throw BenchError("\(succeeded) of \(pending) tasks succeeded") }
        result["succeeded"] = succeeded
    }
    return result
}
