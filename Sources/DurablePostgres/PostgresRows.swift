import DurableEngine
import PostgresNIO

/// Reading store records out of rows, column by column in the order a
/// statement names them.
enum PostgresRows {
    /// The columns `task(_:)` reads, in its order.
    static let taskColumns = """
        id, job, name, status, input, context, result, error, key, priority, run_at, deadline, parent_id,
        group_id, callback_of, owner, attempt, lease_expires_at, cancel_requested_at, cancel_message,
        created_at, started_at, finished_at, completion_seq, queue, concurrency_key, concurrency_limit, key_waiting
        """

    /// The columns `claimed(_:)` reads, in its order.
    static let claimedColumns = """
        id, job, name, input, context, attempt, started_at, parent_id, group_id, callback_of, deadline, timeout_ms,
        retry, failures, run_at, trace_context, queue
        """

    /// As many NULLs as ``claimedColumns``, for a row of another kind in a UNION with claimed rows.
    static let claimedNulls = Array(repeating: "NULL", count: claimedColumns.split(separator: ",").count)
        .joined(separator: ", ")

    /// The columns `outcome(_:)` reads, in its order.
    static let outcomeColumns = "id, status, result, error, cancel_message, completion_seq"

    /// The columns `worker(_:)` reads, in its order.
    static let workerColumns = "id, host, boot_id, pid, process_start, concurrency, jobs"

    /// ``ClaimRule`` in SQL, for a `tasks` row, with `now` the placeholder of the
    /// current time.
    static func claimable(now: String) -> String {
        "status = 'pending' AND NOT key_waiting AND run_at <= \(now) AND (deadline IS NULL OR deadline > \(now))"
    }

    /// The jobs that have claimable-looking tasks in the queue `$1`, found by
    /// walking the `tasks_claim` index from one job to the next.
    static let pendingJobs = """
        WITH RECURSIVE pending_jobs(job) AS (
            SELECT (SELECT min(job) FROM tasks WHERE status = 'pending' AND NOT key_waiting AND queue = $1)
            UNION ALL
            SELECT (SELECT min(job) FROM tasks
                    WHERE status = 'pending' AND NOT key_waiting AND queue = $1 AND job > pending_jobs.job)
            FROM pending_jobs WHERE pending_jobs.job IS NOT NULL)
        SELECT job FROM pending_jobs WHERE job IS NOT NULL
        """

    private static func concurrencyKey(_ key: String?, limit: Int64?) throws -> ConcurrencyKey? {
        key.map { ConcurrencyKey($0, limit: Int(limit ?? 1)) }
    }

    static func task(_ row: PostgresRow) throws -> TaskRecord {
        var columns = Columns(row)
        let id: Int64 = try columns.next()
        let job: String = try columns.next()
        let name: String = try columns.next()
        let status = try StoredWord.decode(TaskStatus.self, try columns.next() as String, column: "status", of: "task \(id)")
        return TaskRecord(
            id: TaskID(id), job: job, name: name, status: status,
            input: try columns.next(),
            context: StoredJSON.decodeContext(try columns.next()),
            result: try columns.next(),
            error: StoredJSON.decodeError(try columns.next()),
            key: try columns.next(),
            priority: Int(try columns.next() as Int64),
            runAt: try columns.next(),
            deadline: try columns.next(),
            parentID: (try columns.next() as Int64?).map { TaskID($0) },
            groupID: (try columns.next() as Int64?).map { GroupID(rawValue: $0) },
            callbackOf: (try columns.next() as Int64?).map { TaskID($0) },
            owner: try columns.next(),
            attempt: Int(try columns.next() as Int64),
            leaseExpiresAt: try columns.next(),
            cancelRequestedAt: try columns.next(),
            cancelMessage: try columns.next(),
            createdAt: try columns.next(),
            startedAt: try columns.next(),
            finishedAt: try columns.next(),
            completionSequence: try columns.next(),
            queue: try columns.next(),
            concurrencyKey: try concurrencyKey(try columns.next(), limit: try columns.next()),
            waitsForKey: try columns.next())
    }

    static func claimed(_ row: PostgresRow, from start: Int = 0) throws -> ClaimedTask {
        var columns = Columns(row, from: start)
        return ClaimedTask(
            id: TaskID(try columns.next() as Int64),
            job: try columns.next(),
            name: try columns.next(),
            input: try columns.next(),
            context: try columns.next(),
            attempt: Int(try columns.next() as Int64),
            startedAt: try columns.next(),
            parentID: (try columns.next() as Int64?).map { TaskID($0) },
            groupID: (try columns.next() as Int64?).map { GroupID(rawValue: $0) },
            callbackOf: (try columns.next() as Int64?).map { TaskID($0) },
            deadline: try columns.next(),
            timeoutMilliseconds: try columns.next(),
            retry: try columns.next(),
            failures: Int(try columns.next() as Int64),
            runAt: try columns.next() as Int64,
            traceContext: try columns.next(),
            queue: try columns.next())
    }

    /// The outcome of a finished task's row (``outcomeColumns``); `nil` while it is
    /// not finished. The second value is the row's id.
    static func outcome(_ row: PostgresRow) throws -> (id: TaskID, outcome: TaskOutcome?) {
        var columns = Columns(row)
        let id = TaskID(try columns.next() as Int64)
        let statusWord: String = try columns.next()
        let result: String? = try columns.next()
        let error: String? = try columns.next()
        let cancelMessage: String? = try columns.next()
        let sequence: Int64? = try columns.next()
        guard let status = TaskStatus(rawValue: statusWord), status.isTerminal, let sequence else { return (id, nil) }
        return (
            id,
            TaskOutcome(
                id: id, status: status, result: result, error: StoredJSON.decodeError(error),
                cancelMessage: cancelMessage, completionSequence: sequence)
        )
    }

    /// A worker row (``workerColumns``, from `start`); `nil` when its id is NULL,
    /// as in a LEFT JOIN that found no worker.
    static func worker(_ row: PostgresRow, from start: Int = 0) throws -> WorkerInfo? {
        var columns = Columns(row, from: start)
        guard let id: String = try columns.next() else { return nil }
        return WorkerInfo(
            id: id, host: try columns.next(), bootID: try columns.next(), pid: Int32(truncatingIfNeeded: try columns.next() as Int64),
            processStart: try columns.next(), concurrency: Int(try columns.next() as Int64),
            jobs: (try? StoredJSON.decode([String].self, from: try columns.next() as String)) ?? [])
    }

    static func group(_ row: PostgresRow, existed: Bool) throws -> GroupRecord {
        var columns = Columns(row)
        let id: Int64 = try columns.next()
        let name: String = try columns.next()
        let key: String? = try columns.next()
        let state = try StoredWord.decode(GroupState.self, try columns.next() as String, column: "state", of: "task group \(id)")
        let failed: Int64? = try columns.next()
        return GroupRecord(
            id: GroupID(rawValue: id), name: name, key: key, state: state, failedTaskID: failed.map { TaskID($0) },
            existed: existed)
    }

    /// The columns `group(_:existed:)` reads, in its order.
    static let groupColumns = "id, name, key, state, failed_task_id"
}

/// The cells of a row, read one after the other.
struct Columns {
    private let row: PostgresRandomAccessRow
    private var index: Int

    init(_ row: PostgresRow, from start: Int = 0) {
        self.row = row.makeRandomAccess()
        index = start
    }

    mutating func next<T: PostgresDecodable>(_ type: T.Type = T.self) throws -> T {
        defer { index += 1 }
        return try row[index].decode(T.self)
    }
}
