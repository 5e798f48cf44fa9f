package import DurableEngine
import GRDB

// Queues: their settings and counts.
extension SQLiteStore: QueueStore {
    package func queues(named name: String?) async throws -> [QueueRecord] {
        try await read("read queues") { db in
            let counts = try db.cachedStatement(
                sql: """
                    SELECT (SELECT count(*) FROM durable_tasks WHERE queue_id = ?1 AND status = 'pending'),
                           (SELECT count(*) FROM durable_tasks WHERE queue_id = ?1 AND status = 'running')
                    """)
            return try Self.queueSettings(name.map { [$0] }, db: db).map { id, queue, settings in
                let row = try Row.fetchOne(counts, arguments: [id])
                return QueueRecord(name: queue, settings: settings, pending: row?[0] ?? 0, running: row?[1] ?? 0)
            }
        }
    }

    package func updateQueue(
        _ name: String, now: Int64, _ change: @escaping @Sendable (inout QueueSettings) throws -> Void
    ) async throws -> QueueSettings {
        try await write("change queue \"\(name)\"") { db in
            var settings = try Self.queueSettings([name], db: db).first?.settings ?? QueueSettings()
            try change(&settings)
            try QueueLimits.check(settings, of: name)
            try db.execute(
                sql: """
                    INSERT INTO durable_queues (name, concurrency, worker_concurrency, rate_limit, rate_period_ms, paused,
                                        created_at, updated_at)
                    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)
                    ON CONFLICT (name) DO UPDATE SET
                        concurrency = excluded.concurrency, worker_concurrency = excluded.worker_concurrency,
                        rate_limit = excluded.rate_limit, rate_period_ms = excluded.rate_period_ms,
                        paused = excluded.paused, updated_at = excluded.updated_at
                    """,
                arguments: [
                    name, settings.concurrency, settings.workerConcurrency, settings.rateLimit?.count,
                    settings.rateLimit?.period.milliseconds, settings.isPaused, now,
                ])
            return settings
        }
    }
}
