import DurableEngine
import GRDB

/// Reading store records out of `tasks` rows.
enum SQLiteRows {
    /// The columns `task(_:)` reads.
    static let taskColumns = """
        id, job, name, status, input, context, result, error, key, priority, run_at, deadline, parent_id,
        group_id, callback_of, owner, attempt, lease_expires_at, cancel_requested_at, cancel_message,
        created_at, started_at, finished_at, completion_seq, concurrency_key, concurrency_limit, key_waiting,
        coalesce((SELECT name FROM durable_queues WHERE durable_queues.id = durable_tasks.queue_id), 'default') AS queue
        """

    /// ``ClaimRule`` in SQL, for a `tasks` row, with `now` the placeholder (or
    /// expression) for the current time. Every claim and every look for due work
    /// uses it.
    static func claimable(now: String) -> String {
        "status = 'pending' AND key_waiting = 0 AND run_at <= \(now) AND (deadline IS NULL OR deadline > \(now))"
    }

    /// The columns `claimed(_:)` reads, in its order.
    static let claimedColumns = """
        id, job, name, input, context, attempt, started_at, parent_id, group_id, callback_of, deadline, timeout_ms,
        retry, failures, run_at, trace_context, queue_id
        """

    /// The columns `outcome(_:)` reads.
    static let outcomeColumns = "id, status, result, error, cancel_message, completion_seq"

    /// - Throws: ``DurableError/Code/invalidRow`` when the stored status is not one
    ///   of ``TaskStatus`` (a row edited by hand): it is named, never guessed.
    static func task(_ row: Row) throws -> TaskRecord {
        let id: Int64 = row["id"]
        let status = try StoredWord.decode(TaskStatus.self, row["status"], column: "status", of: "task \(id)")
        return TaskRecord(
            id: TaskID(id),
            job: row["job"] as String,
            name: row["name"] as String,
            status: status,
            input: row["input"] as String,
            context: StoredJSON.decodeContext(row["context"] as String?),
            result: row["result"] as String?,
            error: StoredJSON.decodeError(row["error"] as String?),
            key: row["key"] as String?,
            priority: row["priority"] as Int,
            runAt: row["run_at"] as Int64,
            deadline: row["deadline"] as Int64?,
            parentID: taskID(row, "parent_id"),
            groupID: (row["group_id"] as Int64?).map { GroupID(rawValue: $0) },
            callbackOf: taskID(row, "callback_of"),
            owner: row["owner"] as String?,
            attempt: row["attempt"] as Int,
            leaseExpiresAt: row["lease_expires_at"] as Int64?,
            cancelRequestedAt: row["cancel_requested_at"] as Int64?,
            cancelMessage: row["cancel_message"] as String?,
            createdAt: row["created_at"] as Int64,
            startedAt: row["started_at"] as Int64?,
            finishedAt: row["finished_at"] as Int64?,
            completionSequence: row["completion_seq"] as Int64?,
            queue: row["queue"] as String,
            concurrencyKey: (row["concurrency_key"] as String?).map {
                ConcurrencyKey($0, limit: row["concurrency_limit"] as Int? ?? 1)
            },
            waitsForKey: row["key_waiting"] as Bool)
    }

    static func taskID(_ row: Row, _ column: String) -> TaskID? {
        (row[column] as Int64?).map { TaskID($0) }
    }

    /// The outcome of a finished task's row; `nil` while it is not finished.
    static func outcome(_ row: Row) -> TaskOutcome? {
        guard let status = TaskStatus(rawValue: row["status"] as String), status.isTerminal,
            let sequence: Int64 = row["completion_seq"]
        else { return nil }
        return TaskOutcome(
            id: TaskID(row["id"] as Int64), status: status, result: row["result"] as String?,
            error: StoredJSON.decodeError(row["error"] as String?), cancelMessage: row["cancel_message"] as String?,
            completionSequence: sequence)
    }

    /// Reads the current row of a statement returning ``claimedColumns``, by
    /// position (the claim is the hot path); `queues` names the queues by id.
    static func claimed(_ row: borrowing BoundStatement, queues: [Int64: String]) -> ClaimedTask {
        let queue = row.int64(16)
        return ClaimedTask(
            id: TaskID(row.int64(0)),
            job: row.string(1),
            name: row.string(2),
            input: row.string(3),
            context: row.optionalString(4),
            attempt: row.int(5),
            startedAt: row.int64(6),
            parentID: row.optionalInt64(7).map { TaskID($0) },
            groupID: row.optionalInt64(8).map { GroupID(rawValue: $0) },
            callbackOf: row.optionalInt64(9).map { TaskID($0) },
            deadline: row.optionalInt64(10),
            timeoutMilliseconds: row.optionalInt64(11),
            retry: row.optionalString(12),
            failures: row.int(13),
            runAt: row.int64(14),
            traceContext: row.optionalString(15),
            queue: queue == 0 ? TaskOptions.defaultQueue : queues[queue] ?? "queue \(queue)")
    }

    /// A row of the workers table (its id in `idColumn`); `nil` when the id is
    /// NULL, as in a LEFT JOIN that found no worker.
    static func worker(_ row: Row, idColumn: String = "id") -> WorkerInfo? {
        guard let id = row[idColumn] as String? else { return nil }
        return WorkerInfo(
            id: id, host: row["host"] as String, bootID: row["boot_id"] as String, pid: row["pid"] as Int32,
            processStart: row["process_start"] as String, concurrency: row["concurrency"] as Int,
            jobs: (try? StoredJSON.decode([String].self, from: row["jobs"] as String)) ?? [])
    }

    static func group(_ row: Row, existed: Bool) throws -> GroupRecord {
        let id: Int64 = row["id"]
        return GroupRecord(
            id: GroupID(rawValue: id),
            name: row["name"] as String,
            key: row["key"] as String?,
            state: try StoredWord.decode(GroupState.self, row["state"], column: "state", of: "task group \(id)"),
            failedTaskID: taskID(row, "failed_task_id"),
            existed: existed)
    }
}
