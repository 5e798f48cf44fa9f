import Durable
import Foundation

/// Claims under flow control, end to end like `e2e` (no-op tasks created in
/// chunks, gathered; results checked):
///
/// - `keys`: each of the `n` tasks has one of `keys` concurrency keys (limit 1),
///   so most tasks wait for their key and are admitted as their key's task ends.
/// - `beside-rated`: first `rated` tasks in a queue limited to 100 starts per
///   second, then the `n` tasks in the default queue, timed alone: the
///   unlimited queue's throughput beside the limited one (compare with `e2e`).
public func queueWorkload(
    database: BenchDatabase, mode: String, n: Int, keys: Int, rated: Int, durability: Durability, concurrency: Int,
    chunk: Int = 10_000
) async throws -> [String: Any] {
    let engine = try await database.makeEngine(durability: durability, concurrency: concurrency)
    engine.register(Noop())
    if mode == "beside-rated" {
        try await engine.configureQueue("rated", rateLimit: RateLimit(100, per: .seconds(1)))
        for first in stride(from: 0, to: rated, by: chunk) {
            _ = try await engine.createTasks(
                Noop.self, (first..<min(rated, first + chunk)).map { TaskRequest($0, options: TaskOptions(queue: "rated")) })
        }
    } else if mode != "keys" {
        throw BenchError("--mode is keys or beside-rated, not \(mode)")
    }
    let start = monotonicNanos()
    let (created, gathered) = try await engine.run { engine in
        var tasks: [DurableTask<Int>] = []
        tasks.reserveCapacity(n)
        for first in stride(from: 0, to: n, by: chunk) {
            let inputs = first..<min(n, first + chunk)
            tasks += try await engine.createTasks(
                Noop.self,
                inputs.map { input in
                    mode == "keys"
                        ? TaskRequest(input, options: TaskOptions(concurrencyKey: ConcurrencyKey("k\(input % keys)")))
                        : TaskRequest(input)
                })
        }
        let created = monotonicNanos()
        try verify(try await engine.gather(tasks), n: n)
        return (created, monotonicNanos())
    }
    let rateStarts = mode == "beside-rated" ? try await engine.queue(named: "rated")?.running ?? 0 : 0
    let total = seconds(from: start, to: gathered)
    return [
        "workload": "queues", "mode": mode, "n": n, "keys": mode == "keys" ? keys : 0,
        "rated_tasks": mode == "beside-rated" ? rated : 0, "rated_running_at_end": rateStarts,
        "sync": durability.syncName, "concurrency": concurrency, "chunk": chunk,
        "create_s": rounded(seconds(from: start, to: created)), "e2e_s": rounded(total),
        "tasks_per_s": rounded(Double(n) / total, 1), "results_verified": true,
    ]
}
