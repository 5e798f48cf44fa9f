package import DurableEngine
import PostgresNIO

// Administration in bulk: cancel, retry, change options, prune.
extension PostgresStore {
    package func cancelPending(job: String?, queue: String?, limit: Int, message: String?, now: Int64) async throws
        -> TransitionEffects
    {
        try await write("cancel pending tasks") { connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            try await transitions.lockCompletionCounter()
            let ids = try await connection.values(
                """
                SELECT id FROM tasks
                WHERE status = 'pending' AND (\(job)::text IS NULL OR job = \(job)::text)
                      AND (\(queue)::text IS NULL OR queue = \(queue)::text)
                ORDER BY id LIMIT \(Int64(limit))
                """, as: Int64.self)
            for id in ids { _ = try await transitions.requestCancel(of: TaskID(id), message: message) }
            try await transitions.flush()
            return transitions.effects
        }
    }

    package func retry(_ ids: [TaskID], now: Int64) async throws -> [TaskID] {
        try await write("retry \(ids.count) task(s)") { connection in
            var reset: [TaskID] = []
            var transitions = PostgresTransitions(connection: connection, now: now)
            for id in ids {
                // A task with a concurrency key waits for room under it again.
                let changed = try await connection.rows(
                    """
                    UPDATE tasks SET status = 'pending', result = NULL, error = NULL, run_at = \(now), failures = 0,
                                     cancel_requested_at = NULL, cancel_message = NULL, finished_at = NULL,
                                     completion_seq = NULL, owner = NULL, lease_expires_at = NULL,
                                     key_waiting = concurrency_key IS NOT NULL
                    WHERE id = \(id.rawValue) AND status IN ('failed', 'cancelled')
                    RETURNING concurrency_key
                    """)
                guard let row = changed.first else { continue }
                if let key = try row.decode(String?.self) { transitions.freedKeys.insert(key) }
                try await connection.run(
                    "DELETE FROM task_steps WHERE task_id = \(id.rawValue) AND status = 'failed'")
                reset.append(id)
            }
            try await transitions.flush()
            return reset
        }
    }

    package func updateAttemptOptions(of ids: [TaskID], timeoutMilliseconds: Int64?, retry: String?) async throws
        -> Int
    {
        guard !ids.isEmpty else { return 0 }
        return try await write("change the attempt options of \(ids.count) task(s)") { connection in
            var statement = PostgresStatement()
            let timeout = statement.bind(timeoutMilliseconds) + "::bigint"
            let policy = statement.bind(retry) + "::text"
            let list = try statement.bind(array: ids.map(\.rawValue))
            statement.append(
                """
                UPDATE tasks SET timeout_ms = \(timeout), retry = \(policy)
                WHERE id = ANY(\(list)) AND status != 'succeeded'
                  AND (timeout_ms IS DISTINCT FROM \(timeout) OR retry IS DISTINCT FROM \(policy))
                RETURNING id
                """)
            return try await connection.rows(statement.query).count
        }
    }

    package func failedTaskIDs(limit: Int) async throws -> [TaskID] {
        try await read("list failed tasks") { connection in
            try await connection.values(
                "SELECT id FROM tasks WHERE status = 'failed' ORDER BY id LIMIT \(Int64(limit))", as: Int64.self
            ).map { TaskID($0) }
        }
    }

    package func prune(finishedBefore before: Int64, statuses: Set<TaskStatus>, limit: Int) async throws -> Int {
        let finished = statuses.isEmpty ? TaskStatus.allCases.filter(\.isTerminal) : statuses.filter(\.isTerminal)
        let words = finished.map(\.rawValue).sorted()
        return try await write("prune finished tasks") { connection in
            var statement = PostgresStatement()
            let cutoff = statement.bind(before)
            let list = try statement.bind(array: words)
            let count = statement.bind(Int64(limit))
            // Lines appended by these tasks stay in file_appends: they fix where
            // their files end, which later appends must not cut.
            let rowsOfTasks = Self.rowsOfTasks.map { table in
                "\(table) AS (DELETE FROM \(table) WHERE task_id IN (SELECT id FROM doomed))"
            }
            statement.append(
                """
                WITH doomed AS (
                    SELECT id FROM tasks WHERE finished_at < \(cutoff) AND status = ANY(\(list))
                    ORDER BY id LIMIT \(count) FOR UPDATE SKIP LOCKED
                ), \(rowsOfTasks.joined(separator: ", "))
                DELETE FROM tasks WHERE id IN (SELECT id FROM doomed) RETURNING id
                """)
            return try await connection.rows(statement.query).count
        }
    }

    /// The tables whose rows belong to a task, deleted with it.
    static let rowsOfTasks = ["task_attempts", "task_steps", "task_callbacks", "task_messages", "task_waits", "task_events"]
}
