package import DurableEngine
import PostgresNIO

// Listing and statistics (the `durable` tool's inspection commands).
extension PostgresStore {
    package func tasks(matching query: TaskQuery) async throws -> [TaskRecord] {
        try await read("list tasks") { connection in
            var statement = PostgresStatement("SELECT \(PostgresRows.taskColumns) FROM tasks WHERE TRUE")
            if !query.statuses.isEmpty {
                let list = try statement.bind(array: query.statuses.map(\.rawValue).sorted())
                statement.append(" AND status = ANY(\(list))")
            }
            if let glob = query.nameGlob {
                statement.append(" AND name LIKE \(statement.bind(Self.likePattern(glob: glob))) ESCAPE '\\'")
            }
            if let job = query.job {
                statement.append(" AND job = \(statement.bind(job))")
            }
            if let queue = query.queue {
                statement.append(" AND queue = \(statement.bind(queue))")
            }
            if let since = query.createdSince {
                statement.append(" AND created_at >= \(statement.bind(since.unixMilliseconds))")
            }
            if let before = query.createdBefore {
                statement.append(" AND created_at < \(statement.bind(before.unixMilliseconds))")
            }
            if let parent = query.parentID {
                statement.append(" AND parent_id = \(statement.bind(parent.rawValue))")
            }
            if let group = query.groupID {
                statement.append(" AND group_id = \(statement.bind(group.rawValue))")
            }
            if let key = query.key {
                statement.append(" AND key = \(statement.bind(key))")
            }
            if let before = query.beforeID {
                statement.append(" AND id < \(statement.bind(before.rawValue))")
            }
            statement.append(" ORDER BY id DESC LIMIT \(statement.bind(Int64(max(0, query.limit))))")
            return try await connection.rows(statement.query).map(PostgresRows.task)
        }
    }

    /// A GLOB pattern (`*`, `?`, case-sensitive, as SQLite's) as a LIKE pattern.
    static func likePattern(glob: String) -> String {
        var pattern = ""
        for character in glob {
            switch character {
            case "*": pattern += "%"
            case "?": pattern += "_"
            case "%", "_", "\\": pattern += "\\" + String(character)
            default: pattern.append(character)
            }
        }
        return pattern
    }

    package func attempts(of id: TaskID) async throws -> [AttemptRecord] {
        try await read("read the attempts of task \(id)") { connection in
            try await connection.rows(
                """
                SELECT attempt, owner, started_at, finished_at, outcome, error FROM task_attempts
                WHERE task_id = \(id.rawValue) ORDER BY attempt
                """
            ).map { row in
                let (attempt, owner, startedAt, finishedAt, outcome, error) = try row.decode(
                    (Int64, String, Int64, Int64, String, String?).self)
                return AttemptRecord(
                    taskID: id, attempt: Int(attempt), owner: owner, startedAt: startedAt, finishedAt: finishedAt,
                    outcome: try StoredWord.decode(
                        AttemptOutcome.self, outcome, column: "outcome", of: "attempt \(attempt) of task \(id)"),
                    error: StoredJSON.decodeError(error))
            }
        }
    }

    package func callbacks(of id: TaskID) async throws -> [CallbackRecord] {
        try await read("read the callbacks of task \(id)") { connection in
            try await connection.rows(
                """
                SELECT id, job, input, callback_task_id FROM task_callbacks WHERE task_id = \(id.rawValue) ORDER BY id
                """
            ).map { row in
                let (callbackID, job, input, task) = try row.decode((Int64, String, String, Int64?).self)
                return CallbackRecord(id: callbackID, job: job, input: input, callbackTaskID: task.map { TaskID($0) })
            }
        }
    }

    package func statistics(minuteAgo: Int64, hourAgo: Int64) async throws -> QueueStatistics {
        try await read("count tasks") { connection in
            var counts: [String: [TaskStatus: Int]] = [:]
            for row in try await connection.rows("SELECT job, status, count(*) FROM tasks GROUP BY job, status") {
                let (job, status, count) = try row.decode((String, String, Int64).self)
                let word = try StoredWord.decode(TaskStatus.self, status, column: "status", of: "a task of job \(job)")
                counts[job, default: [:]][word] = Int(count)
            }
            let minute = try await connection.rows(
                """
                SELECT count(*), min(finished_at), max(finished_at) FROM tasks
                WHERE completion_seq IS NOT NULL AND finished_at >= \(minuteAgo)
                """
            ).first.map { try $0.decode((Int64, Int64?, Int64?).self) }
            let hour = try await connection.value(
                "SELECT count(*) FROM tasks WHERE completion_seq IS NOT NULL AND finished_at >= \(hourAgo)",
                as: Int64.self) ?? 0
            var statistics = QueueStatistics(
                counts: counts, finishedLastMinute: Int(minute?.0 ?? 0), finishedLastHour: Int(hour))
            if let first = minute?.1, let last = minute?.2 {
                statistics.lastMinuteSpanMilliseconds = last - first
            }
            return statistics
        }
    }

    package func oldestDueTime(now: Int64) async throws -> Int64? {
        try await read("find the oldest due task") { connection in
            try await connection.value(
                "SELECT min(run_at) FROM tasks WHERE status = 'pending' AND run_at <= \(now)", as: Int64.self)
        }
    }

    package func runningTasks() async throws -> [RunningTaskRow] {
        try await read("list running tasks") { connection in
            try await connection.rows(
                """
                SELECT t.id, t.job, t.owner, t.lease_expires_at, w.heartbeat_at, w.stopped_at,
                       w.id, w.host, w.boot_id, w.pid, w.process_start, w.concurrency, w.jobs
                FROM tasks AS t LEFT JOIN workers AS w ON w.id = t.owner
                WHERE t.status = 'running'
                ORDER BY t.id
                """
            ).map { row in
                var columns = Columns(row)
                let id: Int64 = try columns.next()
                let job: String = try columns.next()
                let owner: String? = try columns.next()
                let lease: Int64? = try columns.next()
                let heartbeat: Int64? = try columns.next()
                let stopped: Int64? = try columns.next()
                return RunningTaskRow(
                    id: TaskID(id), job: job, owner: owner, leaseExpiresAt: lease,
                    worker: try PostgresRows.worker(row, from: 6), heartbeatAt: heartbeat, stoppedAt: stopped)
            }
        }
    }
}
