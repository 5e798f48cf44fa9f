package import DurableEngine
import GRDB

// Listing, statistics and administration (the `durable` tool's inspection commands).
extension SQLiteStore {
    package func tasks(matching query: TaskQuery) async throws -> [TaskRecord] {
        try await read("list tasks") { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if !query.statuses.isEmpty {
                conditions.append("status IN (SELECT value FROM json_each(?))")
                _ = arguments.append(contentsOf: [try StoredJSON.encode(query.statuses.map(\.rawValue).sorted())])
            }
            if let glob = query.nameGlob {
                conditions.append("name GLOB ?")
                _ = arguments.append(contentsOf: [glob])
            }
            if let job = query.job {
                conditions.append("job = ?")
                _ = arguments.append(contentsOf: [job])
            }
            if let queue = query.queue {
                conditions.append("queue_id = (SELECT id FROM durable_queues WHERE name = ?)")
                _ = arguments.append(contentsOf: [queue])
            }
            if let since = query.createdSince {
                conditions.append("created_at >= ?")
                _ = arguments.append(contentsOf: [since.unixMilliseconds])
            }
            if let before = query.createdBefore {
                conditions.append("created_at < ?")
                _ = arguments.append(contentsOf: [before.unixMilliseconds])
            }
            if let parent = query.parentID {
                conditions.append("parent_id = ?")
                _ = arguments.append(contentsOf: [parent.rawValue])
            }
            if let group = query.groupID {
                conditions.append("group_id = ?")
                _ = arguments.append(contentsOf: [group.rawValue])
            }
            if let key = query.key {
                conditions.append("key = ?")
                _ = arguments.append(contentsOf: [key])
            }
            if let before = query.beforeID {
                conditions.append("id < ?")
                _ = arguments.append(contentsOf: [before.rawValue])
            }
            let filter = conditions.isEmpty ? "" : "WHERE " + conditions.joined(separator: " AND ")
            _ = arguments.append(contentsOf: [max(0, query.limit)])
            return try Row.fetchAll(
                db, sql: "SELECT \(SQLiteRows.taskColumns) FROM durable_tasks \(filter) ORDER BY id DESC LIMIT ?",
                arguments: arguments
            ).map(SQLiteRows.task)
        }
    }

    package func attempts(of id: TaskID) async throws -> [AttemptRecord] {
        try await read("read the attempts of task \(id)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT attempt, owner, started_at, finished_at, outcome, error FROM durable_task_attempts
                    WHERE task_id = ? ORDER BY attempt
                    """,
                arguments: [id.rawValue]
            ).map { row in
                let attempt: Int = row[0]
                return AttemptRecord(
                    taskID: id, attempt: attempt, owner: row[1], startedAt: row[2], finishedAt: row[3],
                    outcome: try StoredWord.decode(
                        AttemptOutcome.self, row[4], column: "outcome", of: "attempt \(attempt) of task \(id)"),
                    error: StoredJSON.decodeError(row[5] as String?))
            }
        }
    }

    package func callbacks(of id: TaskID) async throws -> [CallbackRecord] {
        try await read("read the callbacks of task \(id)") { db in
            try Row.fetchAll(
                db, sql: "SELECT id, job, input, callback_task_id FROM durable_task_callbacks WHERE task_id = ? ORDER BY id",
                arguments: [id.rawValue]
            ).map { row in
                CallbackRecord(
                    id: row[0], job: row[1], input: row[2], callbackTaskID: (row[3] as Int64?).map { TaskID($0) })
            }
        }
    }

    package func statistics(minuteAgo: Int64, hourAgo: Int64) async throws -> QueueStatistics {
        try await read("count tasks") { db in
            var counts: [String: [TaskStatus: Int]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT job, status, count(*) FROM durable_tasks GROUP BY job, status") {
                let job: String = row[0]
                let status = try StoredWord.decode(TaskStatus.self, row[1], column: "status", of: "a task of job \(job)")
                counts[job, default: [:]][status] = row[2] as Int
            }
            let finished = try db.cachedStatement(
                sql: """
                    SELECT count(*), min(finished_at), max(finished_at) FROM durable_tasks
                    WHERE completion_seq IS NOT NULL AND finished_at >= ?
                    """)
            let minute = try Row.fetchOne(finished, arguments: [minuteAgo])
            let hour = try Int.fetchOne(finished, arguments: [hourAgo]) ?? 0
            var statistics = QueueStatistics(
                counts: counts, finishedLastMinute: minute?[0] ?? 0, finishedLastHour: hour)
            if let first: Int64 = minute?[1], let last: Int64 = minute?[2] {
                statistics.lastMinuteSpanMilliseconds = last - first
            }
            return statistics
        }
    }

    package func oldestDueTime(now: Int64) async throws -> Int64? {
        try await read("find the oldest due task") { db in
            try Int64.fetchOne(db, sql: "SELECT min(run_at) FROM durable_tasks WHERE status = 'pending' AND run_at <= ?", arguments: [now])
        }
    }

    package func runningTasks() async throws -> [RunningTaskRow] {
        try await read("list running tasks") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT t.id, t.job, t.owner, t.lease_expires_at, w.id AS worker, w.host, w.boot_id, w.pid,
                           w.process_start, w.concurrency, w.jobs, w.heartbeat_at, w.stopped_at
                    FROM durable_tasks AS t LEFT JOIN durable_workers AS w ON w.id = t.owner
                    WHERE t.status = 'running'
                    ORDER BY t.id
                    """
            ).map { row in
                RunningTaskRow(
                    id: TaskID(row["id"] as Int64), job: row["job"], owner: row["owner"],
                    leaseExpiresAt: row["lease_expires_at"], worker: SQLiteRows.worker(row, idColumn: "worker"),
                    heartbeatAt: row["heartbeat_at"], stoppedAt: row["stopped_at"])
            }
        }
    }

    package func cancelPending(job: String?, queue: String?, limit: Int, message: String?, now: Int64) async throws
        -> TransitionEffects
    {
        try await write("cancel pending tasks") { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            let ids = try Int64.fetchAll(
                db,
                sql: """
                    SELECT id FROM durable_tasks
                    WHERE status = 'pending' AND (?1 IS NULL OR job = ?1)
                          AND (?2 IS NULL OR queue_id = (SELECT id FROM durable_queues WHERE name = ?2))
                    ORDER BY id LIMIT ?3
                    """,
                arguments: [job, queue, limit])
            for id in ids { _ = try transitions.requestCancel(of: TaskID(id), message: message) }
            try transitions.flush()
            return transitions.effects
        }
    }

    package func retry(_ ids: [TaskID], now: Int64) async throws -> [TaskID] {
        try await write("retry \(ids.count) task(s)") { db in
            var reset: [TaskID] = []
            var transitions = SQLiteTransitions(db: db, now: now)
            for id in ids {
                // A task with a concurrency key waits for room under it again.
                let key = try String.fetchOne(
                    db,
                    sql: """
                        UPDATE durable_tasks SET status = 'pending', result = NULL, error = NULL, run_at = ?, failures = 0,
                                         cancel_requested_at = NULL, cancel_message = NULL, finished_at = NULL,
                                         completion_seq = NULL, owner = NULL, lease_expires_at = NULL,
                                         key_waiting = concurrency_key IS NOT NULL
                        WHERE id = ? AND status IN ('failed', 'cancelled')
                        RETURNING coalesce(concurrency_key, '')
                        """,
                    arguments: [now, id.rawValue])
                guard let key else { continue }
                if !key.isEmpty { transitions.freedKeys.insert(key) }
                try db.execute(
                    sql: "DELETE FROM durable_task_steps WHERE task_id = ? AND status = 'failed'", arguments: [id.rawValue])
                reset.append(id)
            }
            try transitions.flush()
            return reset
        }
    }

    package func updateAttemptOptions(of ids: [TaskID], timeoutMilliseconds: Int64?, retry: String?) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        let list = "[" + ids.map { String($0.rawValue) }.joined(separator: ",") + "]"
        return try await write("change the attempt options of \(ids.count) task(s)") { db in
            try db.execute(
                sql: """
                    UPDATE durable_tasks SET timeout_ms = ?, retry = ?
                    WHERE id IN (SELECT value FROM json_each(?)) AND status != 'succeeded'
                      AND (timeout_ms IS NOT ? OR retry IS NOT ?)
                    """,
                arguments: [timeoutMilliseconds, retry, list, timeoutMilliseconds, retry])
            return db.changesCount
        }
    }

    package func failedTaskIDs(limit: Int) async throws -> [TaskID] {
        try await read("list failed tasks") { db in
            try Int64.fetchAll(
                db, sql: "SELECT id FROM durable_tasks WHERE status = 'failed' ORDER BY id LIMIT ?", arguments: [limit]
            ).map { TaskID($0) }
        }
    }

    package func prune(finishedBefore before: Int64, statuses: Set<TaskStatus>, limit: Int) async throws -> Int {
        let finished = statuses.isEmpty ? TaskStatus.allCases.filter(\.isTerminal) : statuses.filter(\.isTerminal)
        let list = try StoredJSON.encode(finished.map(\.rawValue).sorted())
        // Found outside the write lock (in id order, so the scan stops at `limit`),
        // then deleted by id in a short transaction that checks them again.
        let candidates = try await read("find finished tasks to prune") { db in
            try Int64.fetchAll(
                db,
                sql: """
                    SELECT id FROM durable_tasks
                    WHERE finished_at < ? AND status IN (SELECT value FROM json_each(?))
                    ORDER BY id LIMIT ?
                    """,
                arguments: [before, list, limit])
        }
        guard !candidates.isEmpty else { return 0 }
        let idList = "[" + candidates.map(String.init).joined(separator: ",") + "]"
        return try await write("prune finished tasks") { db in
            let ids = try Int64.fetchAll(
                db,
                sql: """
                    SELECT id FROM durable_tasks
                    WHERE id IN (SELECT value FROM json_each(?)) AND finished_at < ?
                      AND status IN (SELECT value FROM json_each(?))
                    """,
                arguments: [idList, before, list])
            let confirmed = "[" + ids.map(String.init).joined(separator: ",") + "]"
            // Lines appended by these tasks stay in durable_file_appends: they fix where
            // their files end, which later appends must not cut.
            for table in Self.rowsOfTasks {
                try db.execute(
                    sql: "DELETE FROM \(table) WHERE task_id IN (SELECT value FROM json_each(?))", arguments: [confirmed])
            }
            try db.execute(sql: "DELETE FROM durable_tasks WHERE id IN (SELECT value FROM json_each(?))", arguments: [confirmed])
            return ids.count
        }
    }

    /// The tables whose rows belong to a task, deleted with it.
    static let rowsOfTasks = [
        "durable_task_attempts", "durable_task_steps", "durable_task_callbacks", "durable_task_messages",
        "durable_task_waits", "durable_task_events",
    ]
}
