import Durable
import DurableDashboard
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging

/// The dashboard's server time on a database of `n` finished tasks: the
/// database is seeded with `n` pending no-op tasks (DurableTestWorker seed),
/// a worker runs them all, and each page and API route is then requested
/// `repeats` times through the router, in this process (no network): the
/// median and the slowest, in milliseconds.
public func dashboardTimes(database: BenchDatabase, n: Int, repeats: Int, durability: Durability) async throws
    -> [String: Any]
{
    try WorkerProcess.seed(database, n: n)
    let counter = RunCounter()
    let engine = try await database.makeEngine(durability: durability, concurrency: 256)
    engine.register(Noop(counter: counter))
    let runStart = monotonicNanos()
    try await engine.run { _ in
        while counter.count < n { try await Task.sleep(for: .milliseconds(5)) }
    }
    let ranIn = seconds(from: runStart, to: monotonicNanos())
    let newest = try await engine.tasks(matching: TaskQuery(limit: 1)).first?.id.rawValue ?? 0
    let middle = max(1, newest / 2)
    let routes: [(name: String, uri: String)] = [
        ("task_list", "/tasks"),
        ("task_list_deep_page", "/tasks?before=\(middle)"),
        ("task_list_by_status_and_job", "/tasks?status=succeeded&job=noop&before=\(middle)"),
        ("task_list_name_glob", "/tasks?name=noop-1*"),
        ("task_page", "/tasks/\(middle)"),
        ("api_task", "/api/tasks/\(middle)"),
        ("api_tasks", "/api/tasks?limit=50"),
        ("overview", "/"),
        ("api_stats", "/api/stats"),
    ]
    let application = Dashboard(engine: engine).application(
        host: "127.0.0.1", port: 0, logger: Logger(label: "bench", factory: { _ in SwiftLogNoOpLogHandler() }))
    let times = try await application.test(.router) { client in
        var times: [String: [String: Double]] = [:]
        for route in routes {
            var samples: [Double] = []
            for _ in 0..<repeats {
                let start = monotonicNanos()
                let status = try await client.execute(uri: route.uri, method: .get) { $0.status }
                samples.append(seconds(from: start, to: monotonicNanos()) * 1000)
                guard status == .ok else { throw BenchError("\(route.uri) answered \(status)") }
            }
            samples.sort()
            times[route.name] = ["p50_ms": rounded(samples[samples.count / 2], 2), "max_ms": rounded(samples.last ?? 0, 2)]
        }
        return times
    }
    try engine.close()
    return [
        "workload": "dashboard", "n": n, "repeats": repeats, "run_s": rounded(ranIn), "routes": times,
        "sync": durability.syncName,
    ]
}
