package import DurableEngine
import Foundation
import PostgresNIO

// Workers: registration, the claim/complete cycle, leases and recovery.
extension PostgresStore {
    package func registerWorker(_ worker: WorkerInfo, now: Int64, leaseUntil: Int64) async throws {
        let jobs = try StoredJSON.encode(worker.jobs)
        try await write("register worker \(worker.id)") { connection in
            try await connection.run(
                """
                INSERT INTO workers (id, host, boot_id, pid, process_start, concurrency, jobs, started_at, heartbeat_at)
                VALUES (\(worker.id), \(worker.host), \(worker.bootID), \(Int64(worker.pid)), \(worker.processStart),
                        \(Int64(worker.concurrency)), \(jobs), \(now), \(now))
                """)
        }
    }

    package func stopWorker(_ id: String, now: Int64) async throws {
        try await write("stop worker \(id)") { connection in
            try await connection.run("UPDATE workers SET stopped_at = \(now) WHERE id = \(id)")
        }
    }

    package func activeWorkers() async throws -> [WorkerInfo] {
        try await read("list workers") { connection in
            try await connection.rows(
                "SELECT \(unescaped: PostgresRows.workerColumns) FROM workers WHERE stopped_at IS NULL"
            ).compactMap { try PostgresRows.worker($0) }
        }
    }

    package func recoverTasks(deadOwners: [String], now: Int64) async throws -> Recovery {
        let leaseNow = leaseNow(now)
        return try await write("recover abandoned tasks") { connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            try await transitions.lockCompletionCounter()
            var recovery = Recovery()
            var statement = PostgresStatement(
                """
                SELECT id, owner, attempt, started_at, lease_expires_at < \(leaseNow) AS expired, cancel_requested_at,
                       cancel_message
                FROM tasks
                WHERE status = 'running' AND (owner = ANY(
                """)
            statement.append(try statement.bind(array: deadOwners))
            statement.append(
                """
                ) OR lease_expires_at < \(leaseNow))
                ORDER BY id
                FOR UPDATE SKIP LOCKED
                """)
            for row in try await connection.rows(statement.query) {
                let (id, owner, attempt, startedAt, expired, cancelRequestedAt, message) = try row.decode(
                    (Int64, String?, Int64, Int64?, Bool?, Int64?, String?).self)
                let ownerName = owner ?? "unknown"
                let leaseExpired = expired == true && !deadOwners.contains(ownerName)
                let error = TransitionRules.abandonment(owner: ownerName, leaseExpired: leaseExpired)
                try await transitions.recordAttempt(
                    TaskID(id), attempt: Int(attempt), owner: ownerName, startedAt: startedAt ?? now,
                    outcome: .abandoned, error: try StoredJSON.encode(error))
                if let cancellation = TransitionRules.endingInsteadOfRequeue(
                    cancelRequested: cancelRequestedAt != nil, message: message)
                {
                    try await transitions.finishUnowned(
                        TaskID(id), status: .cancelled, error: cancellation, cancelling: true, cancelMessage: message)
                } else {
                    try await connection.run(
                        "UPDATE tasks SET status = 'pending', owner = NULL, lease_expires_at = NULL WHERE id = \(id)")
                    recovery.requeued.append(TaskID(id))
                }
            }
            if !deadOwners.isEmpty {
                var stop = PostgresStatement("UPDATE workers SET stopped_at = ")
                stop.append(stop.bind(now) + " WHERE stopped_at IS NULL AND id = ANY(")
                stop.append(try stop.bind(array: deadOwners) + ")")
                try await connection.run(stop.query)
            }
            try await transitions.flush()
            recovery.effects = transitions.effects
            return recovery
        }
    }

    package func completeAndClaim(
        _ completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool, now: Int64
    ) async throws -> CycleResult {
        // A claim alone (of named jobs) is one statement.
        let claimOnly = completions.isEmpty && !failingExpired && claim?.jobs != nil
        return try await write("commit \(completions.count) completion(s) and claim", singleStatement: claimOnly) {
            connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            var result = CycleResult()
            // Runs that all end lock the counter in their finishing statement
            // (with their numbers); a requeue locks its task's row, so then the
            // counter is locked first, as everywhere.
            let allEnd = completions.allSatisfy { if case .end = TransitionRules.storing($0) { true } else { false } }
            if failingExpired || !allEnd { try await transitions.lockCompletionCounter() }
            if failingExpired { try await transitions.failExpiredPendingTasks() }
            // Ended runs are finished many per statement; a requeue between them
            // keeps its place in the order.
            var ended: [EndedRun] = []
            for completion in completions {
                switch TransitionRules.storing(completion) {
                case .end(let run):
                    ended.append(run)
                case .requeue(let runAt, let outcome, let error):
                    result.stale += try await transitions.finishRuns(ended)
                    ended.removeAll()
                    if try await Self.requeue(completion, runAt: runAt, outcome: outcome, error: error, with: &transitions) {
                        result.requeued = true
                    } else {
                        result.stale.append(completion.id)
                    }
                }
            }
            result.stale += try await transitions.finishRuns(ended)
            try await transitions.flush()
            result.effects = transitions.effects
            if let claim, claim.limit > 0 {
                result.claimed = try await self.claim(claim, on: connection, now: now)
            }
            return result
        }
    }

    /// Hands a run's task back as pending (at `runAt`, or as soon as possible),
    /// fenced by owner and attempt; if a cancel was requested meanwhile, the task
    /// ends cancelled instead. Returns `false` when the task moved on.
    private static func requeue(
        _ completion: TaskCompletion, runAt: Int64?, outcome: AttemptOutcome, error: StoredError?,
        with transitions: inout PostgresTransitions
    ) async throws -> Bool {
        let (id, owner, attempt, startedAt) = (completion.id, completion.owner, completion.attempt, completion.startedAt)
        let connection = transitions.connection
        let errorText = try error.map(StoredJSON.encode)
        let isRetry = outcome.isFailure
        let requeued = try await connection.rows(
            """
            UPDATE tasks SET status = 'pending', owner = NULL, lease_expires_at = NULL,
                             run_at = coalesce(\(runAt)::bigint, run_at),
                             error = CASE WHEN \(isRetry) THEN \(errorText)::text ELSE error END,
                             failures = failures + \(Int64(isRetry ? 1 : 0))
            WHERE id = \(id.rawValue) AND owner = \(owner) AND attempt = \(Int64(attempt)) AND status = 'running'
              AND cancel_requested_at IS NULL
            RETURNING id
            """)
        if !requeued.isEmpty {
            try await transitions.recordAttempt(
                id, attempt: attempt, owner: owner, startedAt: startedAt, outcome: outcome, error: errorText)
            return true
        }
        // Not requeued: the task moved on, or a cancel was requested meanwhile.
        guard
            let row = try await connection.rows(
                "SELECT cancel_requested_at, cancel_message FROM tasks WHERE id = \(id.rawValue)"
            ).first
        else { return false }
        let (requestedAt, message) = try row.decode((Int64?, String?).self)
        guard
            let cancellation = TransitionRules.endingInsteadOfRequeue(
                cancelRequested: requestedAt != nil, message: message)
        else { return false }
        return try await transitions.finishRun(
            EndedRun(
                id: id, owner: owner, attempt: attempt, startedAt: startedAt, status: .cancelled, result: nil,
                error: cancellation))
    }

    /// Claims the due tasks that come first in claim order (priority, due time,
    /// creation) among the requested jobs, skipping rows another transaction has
    /// locked (being claimed or finished elsewhere). Each job's candidates come
    /// from its own range of the `tasks_claim` index.
    private func claim(_ request: ClaimRequest, on connection: PostgresConnection, now: Int64) async throws
        -> [ClaimedTask]
    {
        let jobs: [String]
        if let requested = request.jobs {
            jobs = requested
        } else {
            jobs = try await connection.values(PostgresQuery(unsafeSQL: PostgresRows.pendingJobs), as: String.self)
        }
        guard !jobs.isEmpty else { return [] }
        var statement = PostgresStatement()
        statement.bind(request.owner)
        statement.bind(now)
        statement.bind(Int64(request.limit))
        bindLease(until: request.leaseUntil, now: now, into: &statement)
        try statement.bind(array: jobs)
        return try await connection.rows(ClaimStatement.self, statement, rowCount: request.limit).map(PostgresRows.claimed).sorted { $0.id < $1.id }
    }

    /// Claims those of `ids` (new tasks of this transaction) that ``ClaimRule`` admits.
    func claim(ids: [Int64], for request: ClaimRequest, on connection: PostgresConnection, now: Int64) async throws
        -> [ClaimedTask]
    {
        var statement = PostgresStatement()
        statement.bind(request.owner)
        statement.bind(now)
        try statement.bind(array: ids)
        bindLease(until: request.leaseUntil, now: now, into: &statement)
        return try await connection.rows(ClaimCreatedStatement.self, statement, rowCount: ids.count).map(PostgresRows.claimed)
            .sorted { $0.id < $1.id }
    }

    package func heartbeat(owner: String, now: Int64, leaseUntil: Int64) async throws -> Set<TaskID> {
        let lease = leaseEnd(until: leaseUntil, now: now)
        return try await write("renew the leases of worker \(owner)") { connection in
            try await connection.run("UPDATE workers SET heartbeat_at = \(now) WHERE id = \(owner)")
            let ids = try await connection.values(
                """
                UPDATE tasks SET lease_expires_at = \(unescaped: lease) WHERE owner = \(owner) AND status = 'running'
                RETURNING id
                """, as: Int64.self)
            return Set(ids.map { TaskID($0) })
        }
    }

    package func expireDeadlines(now: Int64) async throws -> TransitionEffects {
        try await write("fail tasks whose deadline passed") { connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            try await transitions.lockCompletionCounter()
            try await transitions.failExpiredPendingTasks()
            try await transitions.flush()
            return transitions.effects
        }
    }

    package func nextDueTime(after now: Int64) async throws -> Int64? {
        try await read("look for the next due task") { connection in
            try await connection.value(
                """
                SELECT min(run_at) FROM tasks WHERE status = 'pending' AND run_at > created_at AND run_at > \(now)
                """, as: Int64.self)
        }
    }
}
