import Durable
import Foundation
import Synchronization

/// Concurrent submitters, as request handlers are: `callers` tasks each create
/// one no-op task and await its result, again and again, until `n` tasks have
/// run; the worker runs in this process. Reports the throughput and each
/// submit → result duration's percentiles.
public func submitters(
    database: BenchDatabase, n: Int, callers: Int, durability: Durability, concurrency: Int
) async throws -> [String: Any] {
    let engine = try await database.makeEngine(durability: durability, concurrency: concurrency)
    engine.register(Noop())
    let next = NextInput()
    let (durations, elapsed) = try await engine.run { engine in
        for i in 0..<callers { _ = try await engine.createTask(Noop.self, -1 - i).value }
        let start = monotonicNanos()
        let durations = try await withThrowingTaskGroup(of: [Double].self) { group in
            for _ in 0..<callers {
                group.addTask {
                    var mine: [Double] = []
                    while true {
                        let input = next.take()
                        guard input < n else { return mine }
                        let started = monotonicNanos()
                        let value = try await engine.createTask(Noop.self, input).value
                        mine.append(seconds(from: started, to: monotonicNanos()))
                        guard value == input else { throw BenchError("task \(input) returned \(value)") }
                    }
                }
            }
            var all: [Double] = []
            for try await mine in group { all += mine }
            return all
        }
        return (durations, seconds(from: start, to: monotonicNanos()))
    }
    guard durations.count == n else { throw BenchError("\(durations.count) results for \(n) tasks") }
    var result = LatencySummary(samples: durations).json
    result["workload"] = "submitters"
    result["callers"] = callers
    result["sync"] = durability.syncName
    result["concurrency"] = concurrency
    result["e2e_s"] = rounded(elapsed)
    result["tasks_per_s"] = rounded(Double(n) / elapsed, 1)
    result["results_verified"] = true
    return result
}

/// The inputs handed out to the submitters, in order.
private final class NextInput: Sendable {
    private let next = Mutex(0)

    func take() -> Int {
        next.withLock { value in
            defer { value += 1 }
            return value
        }
    }
}
