package import DurableEngine
import PostgresNIO

// Queues: their settings and counts.
extension PostgresStore: QueueStore {
    package func queues(named name: String?) async throws -> [QueueRecord] {
        try await read("read queues") { connection in
            var queues: [QueueRecord] = []
            for (queue, settings) in try await Self.queueSettings(name.map { [$0] }, on: connection) {
                let row = try await connection.rows(
                    """
                    SELECT (SELECT count(*) FROM tasks WHERE queue = \(queue) AND status = 'pending'),
                           (SELECT count(*) FROM tasks WHERE queue = \(queue) AND status = 'running')
                    """
                ).first
                var (pending, running): (Int64, Int64) = (0, 0)
                if let row { (pending, running) = try row.decode((Int64, Int64).self) }
                queues.append(QueueRecord(name: queue, settings: settings, pending: Int(pending), running: Int(running)))
            }
            return queues
        }
    }

    package func updateQueue(
        _ name: String, now: Int64, _ change: @escaping @Sendable (inout QueueSettings) throws -> Void
    ) async throws -> QueueSettings {
        defer {
            // Claims that left queues with limits alone look at them again.
            limitedQueuesRestUntil.withLock { $0 = 0 }
        }
        return try await write("change queue \"\(name)\"") { connection in
            try await connection.run(
                "INSERT INTO queues (name, created_at, updated_at) VALUES (\(name), \(now), \(now)) ON CONFLICT DO NOTHING")
            try await connection.run("SELECT 1 FROM queues WHERE name = \(name) FOR UPDATE")
            var settings = try await Self.queueSettings([name], on: connection).first?.settings ?? QueueSettings()
            try change(&settings)
            try QueueLimits.check(settings, of: name)
            try await connection.run(
                """
                UPDATE queues SET concurrency = \(settings.concurrency.map(Int64.init))::bigint,
                                  worker_concurrency = \(settings.workerConcurrency.map(Int64.init))::bigint,
                                  rate_limit = \(settings.rateLimit.map { Int64($0.count) })::bigint,
                                  rate_period_ms = \(settings.rateLimit?.period.milliseconds)::bigint,
                                  paused = \(settings.isPaused), updated_at = \(now)
                WHERE name = \(name)
                """)
            return settings
        }
    }
}
