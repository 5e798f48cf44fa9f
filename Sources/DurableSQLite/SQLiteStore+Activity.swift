package import DurableEngine
import GRDB

// What ran lately, for the dashboard's overview.
extension SQLiteStore {
    package func finishedCounts(since: Int64, bucket: Int64) async throws -> [Int64: Int] {
        try await read("count the tasks finished per minute") { db in
            var counts: [Int64: Int] = [:]
            for row in try Row.fetchAll(
                db,
                sql: """
                    SELECT finished_at / ? * ?, count(*) FROM durable_tasks
                    WHERE completion_seq IS NOT NULL AND finished_at >= ? GROUP BY 1
                    """, arguments: [bucket, bucket, since])
            {
                counts[row[0]] = row[1]
            }
            return counts
        }
    }

    package func failureGroups(since: Int64, limit: Int) async throws -> [FailureGroup] {
        let failures = try await read("read the latest failures") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, error FROM durable_tasks WHERE status = 'failed' AND finished_at >= ?
                    ORDER BY finished_at DESC LIMIT 10000
                    """, arguments: [since]
            ).map { (id: $0[0] as Int64, error: $0[1] as String?) }
        }
        return FailureGroup.group(failures, limit: limit)
    }

    package func queueWaits(since: Int64, limit: Int) async throws -> [Int64] {
        try await read("read the queue waits") { db in
            try Int64.fetchAll(
                db,
                sql: """
                    SELECT max(0, started_at - run_at) FROM durable_tasks
                    WHERE completion_seq IS NOT NULL AND finished_at >= ? AND started_at IS NOT NULL
                    ORDER BY finished_at DESC LIMIT ?
                    """, arguments: [since, limit])
        }
    }

    package func workerActivity() async throws -> [WorkerActivity] {
        try await read("list the workers") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT w.id, w.host, w.pid, w.concurrency, w.jobs, w.started_at, w.heartbeat_at,
                           (SELECT count(*) FROM durable_tasks AS t WHERE t.owner = w.id AND t.status = 'running') AS running
                    FROM durable_workers AS w WHERE w.stopped_at IS NULL ORDER BY w.started_at, w.id
                    """
            ).map { row in
                WorkerActivity(
                    id: row["id"], host: row["host"], pid: row["pid"], concurrency: row["concurrency"],
                    jobs: (try? StoredJSON.decode([String].self, from: row["jobs"] as String)) ?? [],
                    startedAt: row["started_at"], heartbeatAt: row["heartbeat_at"], running: row["running"])
            }
        }
    }
}
