package import DurableEngine
import GRDB

// Workers: registration, the claim/complete cycle, leases and recovery.
extension SQLiteStore {
    package func registerWorker(_ worker: WorkerInfo, now: Int64, leaseUntil: Int64) async throws {
        try await write("register worker \(worker.id)") { db in
            try db.execute(
                sql: """
                    INSERT INTO durable_workers (id, host, boot_id, pid, process_start, concurrency, jobs, started_at, heartbeat_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
                    """,
                arguments: [
                    worker.id, worker.host, worker.bootID, worker.pid, worker.processStart, worker.concurrency,
                    try StoredJSON.encode(worker.jobs), now, now,
                ])
        }
    }

    package func stopWorker(_ id: String, now: Int64) async throws {
        try await write("stop worker \(id)") { db in
            try db.execute(sql: "UPDATE durable_workers SET stopped_at = ? WHERE id = ?", arguments: [now, id])
        }
    }

    package func activeWorkers() async throws -> [WorkerInfo] {
        try await read("list workers") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, host, boot_id, pid, process_start, concurrency, jobs FROM durable_workers
                    WHERE stopped_at IS NULL
                    """
            ).compactMap { SQLiteRows.worker($0) }
        }
    }

    package func recoverTasks(deadOwners: [String], now: Int64) async throws -> Recovery {
        try await write("recover abandoned tasks") { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            var recovery = Recovery()
            let dead = try StoredJSON.encode(deadOwners)
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, job, owner, attempt, started_at, lease_expires_at, cancel_requested_at, cancel_message
                    FROM durable_tasks
                    WHERE status = 'running'
                      AND (owner IN (SELECT value FROM json_each(?)) OR lease_expires_at < ?)
                    ORDER BY id
                    """,
                arguments: [dead, now])
            for row in rows {
                let id = TaskID(row["id"] as Int64)
                let owner: String = row["owner"] ?? "unknown"
                let leaseExpired = (row["lease_expires_at"] as Int64? ?? 0) < now
                    && !deadOwners.contains(owner)
                let error = TransitionRules.abandonment(owner: owner, leaseExpired: leaseExpired)
                recovery.abandonedJobs.append(row["job"])
                try transitions.recordAttempt(
                    id, attempt: row["attempt"] as Int, owner: owner, startedAt: row["started_at"] as Int64? ?? now,
                    outcome: .abandoned, error: try StoredJSON.encode(error))
                let message: String? = row["cancel_message"]
                if let cancellation = TransitionRules.endingInsteadOfRequeue(
                    cancelRequested: row["cancel_requested_at"] as Int64? != nil, message: message)
                {
                    try transitions.finishUnowned(
                        id, status: .cancelled, error: cancellation, cancelling: true, cancelMessage: message)
                } else {
                    try db.execute(
                        sql: "UPDATE durable_tasks SET status = 'pending', owner = NULL, lease_expires_at = NULL WHERE id = ?",
                        arguments: [id.rawValue])
                    recovery.requeued.append(id)
                }
            }
            if !deadOwners.isEmpty {
                try db.execute(
                    sql: """
                        UPDATE durable_workers SET stopped_at = ?
                        WHERE stopped_at IS NULL AND id IN (SELECT value FROM json_each(?))
                        """,
                    arguments: [now, dead])
            }
            try transitions.flush()
            recovery.effects = transitions.effects
            return recovery
        }
    }

    package func completeAndClaim(
        _ completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool, now: Int64
    ) async throws -> CycleResult {
        // A claim alone need not reach the disk before the job starts: lost in a
        // power cut, the task is pending again. Completions always are synced.
        let relaxed = completions.isEmpty && !failingExpired
        return try await write("commit \(completions.count) completion(s) and claim", relaxed: relaxed) { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            return try Self.cycle(completions, claim: claim, failingExpired: failingExpired, with: &transitions)
        }
    }

    package var commitsCreationsInCycles: Bool { true }

    package func createCompleteAndClaim(
        _ tasks: [NewTask], completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool, now: Int64
    ) async throws -> CycleResult {
        try await write("create \(tasks.count) task(s), commit \(completions.count) completion(s) and claim") { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            let created = try transitions.insert(tasks)
            var result = try Self.cycle(completions, claim: claim, failingExpired: failingExpired, with: &transitions)
            result.created = created
            return result
        }
    }

    /// The worker's cycle in the write transaction of `transitions`: fails the
    /// expired pending tasks if asked, stores the completions, then claims.
    private static func cycle(
        _ completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool,
        with transitions: inout SQLiteTransitions
    ) throws -> CycleResult {
        let (db, now) = (transitions.db, transitions.now)
        var result = CycleResult()
        if failingExpired { try transitions.failExpiredPendingTasks() }
        // Ended runs are finished many per statement; a requeue between them
        // keeps its place in the order.
        var ended: [EndedRun] = []
        for completion in completions {
            switch TransitionRules.storing(completion) {
            case .end(let run):
                ended.append(run)
            case .requeue(let runAt, let outcome, let error):
                result.stale += try transitions.finishRuns(ended)
                ended.removeAll()
                if try Self.requeue(completion, runAt: runAt, outcome: outcome, error: error, with: &transitions) {
                    result.requeued = true
                } else {
                    result.stale.append(completion.id)
                }
            }
        }
        result.stale += try transitions.finishRuns(ended)
        try transitions.flush()
        result.effects = transitions.effects
        if let claim, claim.limit > 0 {
            (result.claimed, result.heldBack) = try Self.claim(claim, db: db, now: now)
        }
        return result
    }

    /// Whether the task (`tasks` row) waits for a topic that has an undelivered
    /// message: one sent while its job was deciding to wait. Then it is due at once.
    static let messageWaiting = """
        EXISTS (SELECT 1 FROM durable_task_waits AS w JOIN durable_task_messages AS m
                ON m.task_id = w.task_id AND m.topic = w.topic AND m.delivered_at IS NULL
                WHERE w.task_id = durable_tasks.id)
        """

    /// Hands a run's task back as pending (at `runAt`, or as soon as possible),
    /// fenced by owner and attempt; a retry also stores the error and counts the
    /// failure. If a cancel was requested meanwhile, the task ends cancelled
    /// instead. Returns `false` when the task moved on.
    private static func requeue(
        _ completion: TaskCompletion, runAt: Int64?, outcome: AttemptOutcome, error: StoredError?,
        with transitions: inout SQLiteTransitions
    ) throws -> Bool {
        let (id, owner, attempt, startedAt) = (completion.id, completion.owner, completion.attempt, completion.startedAt)
        let db = transitions.db
        let errorText = try error.map(StoredJSON.encode)
        let isRetry = outcome.isFailure
        let statement = try db.cachedStatement(
            sql: """
                UPDATE durable_tasks SET status = 'pending', owner = NULL, lease_expires_at = NULL,
                                 run_at = CASE WHEN \(Self.messageWaiting) THEN ? ELSE coalesce(?, run_at) END,
                                 error = CASE WHEN ? THEN ? ELSE error END, failures = failures + ?
                WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running' AND cancel_requested_at IS NULL
                """)
        try statement.execute(arguments: [
            transitions.now, runAt, isRetry, errorText, isRetry ? 1 : 0, id.rawValue, owner, attempt,
        ])
        if db.changesCount > 0 {
            try transitions.recordAttempt(
                id, attempt: attempt, owner: owner, startedAt: startedAt, outcome: outcome, error: errorText)
            return true
        }
        // Not requeued: the task moved on, or a cancel was requested meanwhile.
        let row = try Row.fetchOne(
            db, sql: "SELECT cancel_requested_at, cancel_message FROM durable_tasks WHERE id = ?", arguments: [id.rawValue])
        guard let row,
            let cancellation = TransitionRules.endingInsteadOfRequeue(
                cancelRequested: row["cancel_requested_at"] as Int64? != nil, message: row["cancel_message"])
        else { return false }
        return try transitions.finishRun(
            EndedRun(
                id: id, owner: owner, attempt: attempt, startedAt: startedAt, status: .cancelled, result: nil,
                error: cancellation))
    }

    package func heartbeat(owner: String, now: Int64, leaseUntil: Int64) async throws -> [TaskID: Int] {
        try await write("renew the leases of worker \(owner)") { db in
            try db.execute(sql: "UPDATE durable_workers SET heartbeat_at = ? WHERE id = ?", arguments: [now, owner])
            let rows = try Row.fetchAll(
                db,
                sql: """
                    UPDATE durable_tasks SET lease_expires_at = ? WHERE owner = ? AND status = 'running' RETURNING id, attempt
                    """,
                arguments: [leaseUntil, owner])
            return Dictionary(rows.map { (TaskID($0[0] as Int64), $0[1] as Int) }) { first, _ in first }
        }
    }

    package func expireDeadlines(now: Int64) async throws -> TransitionEffects {
        try await write("fail tasks whose deadline passed") { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            try transitions.failExpiredPendingTasks()
            try transitions.flush()
            return transitions.effects
        }
    }
}
