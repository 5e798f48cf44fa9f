package import DurableEngine
import PostgresNIO

// What ran lately, for the dashboard's overview.
extension PostgresStore {
    package func finishedCounts(since: Int64, bucket: Int64) async throws -> [Int64: Int] {
        try await read("count the tasks finished per minute") { connection in
            var counts: [Int64: Int] = [:]
            for row in try await connection.rows(
                """
                SELECT finished_at / \(bucket) * \(bucket), count(*) FROM tasks
                WHERE completion_seq IS NOT NULL AND finished_at >= \(since) GROUP BY 1
                """)
            {
                let (start, count) = try row.decode((Int64, Int64).self)
                counts[start] = Int(count)
            }
            return counts
        }
    }

    package func failureGroups(since: Int64, limit: Int) async throws -> [FailureGroup] {
        let failures = try await read("read the latest failures") { connection in
            try await connection.rows(
                """
                SELECT id, error FROM tasks WHERE status = 'failed' AND finished_at >= \(since)
                ORDER BY finished_at DESC LIMIT 10000
                """
            ).map { row in
                let (id, error) = try row.decode((Int64, String?).self)
                return (id: id, error: error)
            }
        }
        return FailureGroup.group(failures, limit: limit)
    }

    package func queueWaits(since: Int64, limit: Int) async throws -> [Int64] {
        try await read("read the queue waits") { connection in
            try await connection.values(
                """
                SELECT greatest(0, started_at - run_at) FROM tasks
                WHERE completion_seq IS NOT NULL AND finished_at >= \(since) AND started_at IS NOT NULL
                ORDER BY finished_at DESC LIMIT \(Int64(limit))
                """, as: Int64.self)
        }
    }

    package func workerActivity() async throws -> [WorkerActivity] {
        try await read("list the workers") { connection in
            try await connection.rows(
                """
                SELECT w.id, w.host, w.pid, w.concurrency, w.jobs, w.started_at, w.heartbeat_at,
                       (SELECT count(*) FROM tasks AS t WHERE t.owner = w.id AND t.status = 'running')
                FROM workers AS w WHERE w.stopped_at IS NULL ORDER BY w.started_at, w.id
                """
            ).map { row in
                var columns = Columns(row)
                let id: String = try columns.next()
                let host: String = try columns.next()
                let pid: Int64 = try columns.next()
                let concurrency: Int64 = try columns.next()
                let jobs: String = try columns.next()
                let startedAt: Int64 = try columns.next()
                let heartbeatAt: Int64 = try columns.next()
                let running: Int64 = try columns.next()
                return WorkerActivity(
                    id: id, host: host, pid: Int32(truncatingIfNeeded: pid), concurrency: Int(concurrency),
                    jobs: (try? StoredJSON.decode([String].self, from: jobs)) ?? [], startedAt: startedAt,
                    heartbeatAt: heartbeatAt, running: Int(running))
            }
        }
    }
}
