import DurableEngine
import Foundation
import Hummingbird

// The JSON API (`/api/...`): what the pages show, for scripts and the page's own use.
extension Dashboard {
    /// `GET /api/stats`: counts by status and by job, finished in the last
    /// minute and hour, the last minute's rate, abandoned runs by job.
    func statsJSON() async throws -> Response {
        let statistics = try await engine.statistics()
        var object: [String: Any] = [
            "by_status": Self.countsByStatus(statistics).mapValues { $0 as Any },
            "by_job": statistics.counts.mapValues { counts in
                Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value as Any) })
            },
            "finished_last_minute": statistics.finishedLastMinute,
            "finished_last_hour": statistics.finishedLastHour,
            "abandoned": statistics.abandoned,
        ]
        object["last_minute_rate"] = statistics.lastMinuteRate
        let activity = try await engine.activity()
        object["finished_per_minute"] = [
            "since": Formatting.isoTime(activity.windowStart) ?? "", "counts": activity.finishedPerMinute,
        ]
        object["queue_wait_ms"] = activity.queueWait.map { ["p50": $0.p50, "p95": $0.p95, "sampled": $0.sampled] }
        object["failures_last_hour"] = activity.failures.map { group -> [String: Any] in
            ["type": group.type, "message": group.message, "count": group.count, "latest_task_id": group.latestTaskID.rawValue]
        }
        return JSONText.response(Formatting.jsonLine(object))
    }

    /// `GET /api/workers`: the workers that have not stopped, oldest first.
    func workersJSON() async throws -> Response {
        let workers = try await engine.workers().map { worker -> [String: Any] in
            [
                "id": worker.id, "host": worker.host, "pid": worker.pid, "concurrency": worker.concurrency,
                "running": worker.running, "jobs": worker.jobs,
                "started": Formatting.isoTime(worker.startedAt) ?? "",
                "heartbeat": Formatting.isoTime(worker.heartbeatAt) ?? "",
            ]
        }
        return JSONText.response(Formatting.jsonLine(["workers": workers]))
    }

    /// `GET /api/tasks?...`: a page of tasks, newest first (``TaskFilter``), and
    /// `next_before`, the `before` of the next page (null on the last one).
    func tasksJSON(_ filter: TaskFilter) async throws -> Response {
        if let id = filter.searchedID { return Response.redirect(to: "/api/tasks/\(id)", type: .normal) }
        let tasks = try await engine.tasks(matching: filter.query)
        var object: [String: Any] = ["tasks": tasks.map(Formatting.json)]
        object["next_before"] = Self.nextBefore(tasks, filter: filter) ?? NSNull()
        return JSONText.response(Formatting.jsonLine(object))
    }

    /// `GET /api/tasks/{id}`: one task, as `durable show --json` prints it.
    func taskJSON(_ id: Int64) async throws -> Response {
        JSONText.response(Formatting.jsonLine(try await TaskDetail.load(TaskID(id), from: engine).json))
    }

    /// Task counts by status over every job (every status present, zeros too).
    static func countsByStatus(_ statistics: QueueStatistics) -> [String: Int] {
        var counts = Dictionary(uniqueKeysWithValues: TaskStatus.allCases.map { ($0.rawValue, 0) })
        for byStatus in statistics.counts.values {
            for (status, count) in byStatus { counts[status.rawValue, default: 0] += count }
        }
        return counts
    }

    /// The `before` of the page after `tasks`: its last id, when the page is full.
    static func nextBefore(_ tasks: [TaskRecord], filter: TaskFilter) -> Int64? {
        tasks.count == filter.query.limit ? tasks.last?.id.rawValue : nil
    }
}
