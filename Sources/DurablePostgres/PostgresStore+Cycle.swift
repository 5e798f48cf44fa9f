package import DurableEngine
import PostgresNIO

// The worker's cycle: store the runs that ended, claim due tasks.
extension PostgresStore {
    package func completeAndClaim(
        _ completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool, now: Int64
    ) async throws -> CycleResult {
        let limited = limitedQueuesSeen.withLock { $0 }
        let resting = limited && now < limitedQueuesRestUntil.withLock { $0 }
        let oneStatementClaim = claim == nil || (claim?.jobs != nil && (!limited || resting))
        guard !failingExpired, oneStatementClaim, let runs = Self.endedRunsOfOneStatement(completions) else {
            return try await completeAndClaimInTransaction(
                completions, claim: claim, failingExpired: failingExpired, now: now)
        }
        // A claim alone (of named jobs) is one statement.
        if runs.isEmpty, let claim {
            let (claimed, limitedQueues) = try await write("claim", singleStatement: true, storesLaterWork: false) { connection in
                try await self.claimInOpenQueues(claim, on: connection, now: now)
            }
            var result = CycleResult(claimed: claimed)
            if limitedQueues, !resting { try await claimInLimitedQueues(claim, adding: &result, now: now) }
            return result
        }
        // (Queues with limits found by this claim are claimed from after the
        // runs it leaves are finished: those may hold their places.)
        // The common cycle (runs that ended, a claim) is one statement too; the
        // runs it leaves (a consequence to store, no longer theirs) are finished
        // in a transaction after it.
        // With a claim, the statement does not wait for the completion counter (see
        // FinishAndClaimStatement); without one there is nothing to do meanwhile.
        var (result, leftRunning, limitedQueues, counterBusy) = try await write(
            "commit \(completions.count) completion(s) and claim", singleStatement: true, storesLaterWork: false
        ) { connection in
            try await self.finishAndClaim(runs, claim: claim, waitsForCounter: claim == nil, on: connection, now: now)
        }
        // Another transaction held the completion counter: the claim went through
        // and the runs are finished now, waiting for the counter.
        if counterBusy {
            let finished: CycleResult
            do {
                (finished, leftRunning, _, counterBusy) = try await write(
                    "commit \(completions.count) completion(s)", singleStatement: true, storesLaterWork: false
                ) { connection in
                    try await self.finishAndClaim(runs, claim: nil, waitsForCounter: true, on: connection, now: now)
                }
            } catch let error as DurableError where error.code == .commitOutcomeUnknown {
                throw error
            } catch {
                // The claim committed and the runs are not stored: the worker keeps
                // them for its next commit and hands back what it claimed, as after
                // a commit whose outcome it cannot know.
                throw DurableError(
                    .commitOutcomeUnknown,
                    "\(location): a claim committed, then storing \(runs.count) completion(s) failed: "
                        + PostgresErrors.detail(error))
            }
            guard !counterBusy else {
                throw DurableError(.storage, "the completion counter (durable_counters, completion_seq) is missing")
            }
            result.effects.finished = finished.effects.finished
        }
        if !leftRunning.isEmpty {
            let rest = try await completeAndClaimInTransaction(
                completions.filter { leftRunning.contains($0.id) }, claim: nil, failingExpired: false, now: now)
            result.effects.append(rest.effects)
            result.stale = rest.stale
            result.requeued = rest.requeued
        }
        if limitedQueues, !resting, let claim { try await claimInLimitedQueues(claim, adding: &result, now: now) }
        return result
    }

    /// The runs of `completions` when the one-statement cycle can store them all:
    /// every one ended (none requeued), each of another task, at most 500.
    private static func endedRunsOfOneStatement(_ completions: [TaskCompletion]) -> [EndedRun]? {
        guard completions.count <= 500 else { return nil }
        var runs: [EndedRun] = []
        var ids = Set<TaskID>()
        for completion in completions {
            guard case .end(let run) = TransitionRules.storing(completion), ids.insert(run.id).inserted else {
                return nil
            }
            runs.append(run)
        }
        return runs
    }

    /// Runs ``FinishAndClaimStatement`` (or, waiting for the completion counter,
    /// ``FinishWaitingStatement``): returns what it stored and claimed, the runs
    /// it left running, whether queues with limits are left to claim from, and
    /// whether the counter was busy (then no run was finished).
    private func finishAndClaim(
        _ runs: [EndedRun], claim: ClaimRequest?, waitsForCounter: Bool, on connection: PostgresConnection,
        now: Int64
    ) async throws -> (CycleResult, leftRunning: Set<TaskID>, limitedQueues: Bool, counterBusy: Bool) {
        var statement = PostgresStatement()
        try statement.bind(endedRuns: runs)
        statement.bind(now)
        statement.bind(claim?.owner ?? "")
        statement.bind(Int64(claim?.limit ?? 0))
        bindLease(until: claim?.leaseUntil ?? now, now: now, into: &statement)
        try statement.bind(array: claim?.jobs ?? [])
        try statement.bind(array: claim?.queues ?? [])
        statement.bind(claim?.queues == nil)
        var result = CycleResult()
        var limitedQueues = false
        var counterBusy = false
        var finished: [Int64: (sequence: Int64, cancelMessage: String?)] = [:]
        let rows =
            waitsForCounter
            ? try await connection.rows(FinishWaitingStatement.self, statement)
            : try await connection.rows(FinishAndClaimStatement.self, statement)
        for row in rows {
            var columns = Columns(row)
            if let id: Int64 = try columns.next() {
                finished[id] = (try columns.next(), try columns.next())
            } else if try columns.next(Int64?.self) == -1 {
                counterBusy = true
            } else if row.makeRandomAccess()[3].bytes == nil {
                limitedQueues = true
            } else {
                result.claimed.append(try PostgresRows.claimed(row, from: 3))
            }
        }
        result.claimed.sort { $0.id < $1.id }
        var leftRunning = Set<TaskID>()
        if counterBusy { return (result, leftRunning, limitedQueues, true) }
        for run in runs {
            guard let (sequence, cancelMessage) = finished[run.id.rawValue] else {
                leftRunning.insert(run.id)
                continue
            }
            result.effects.finished.append(
                TaskOutcome(
                    id: run.id, status: run.status, result: run.result, error: run.error, cancelMessage: cancelMessage,
                    completionSequence: sequence))
        }
        // Waiters take outcomes in completion order.
        result.effects.finished.sort { $0.completionSequence < $1.completionSequence }
        return (result, leftRunning, limitedQueues, false)
    }

    /// Claims, in a transaction of its own, what a one-statement claim left:
    /// tasks of queues with limits, up to the claim's remaining slots. Later
    /// claims run in a transaction until no queue has limits.
    private func claimInLimitedQueues(_ claim: ClaimRequest, adding result: inout CycleResult, now: Int64)
        async throws
    {
        limitedQueuesSeen.withLock { $0 = true }
        var remaining = claim
        remaining.limit = claim.limit - result.claimed.count
        guard remaining.limit > 0 else { return }
        let rest = remaining
        let (claimed, heldBack) = try await write("claim in queues with limits") { connection in
            try await self.claim(rest, on: connection, now: now)
        }
        result.claimed = (result.claimed + claimed).sorted { $0.id < $1.id }
        result.heldBack = heldBack
    }

    /// The cycle as a transaction: `BEGIN`, requeues and finishes (with their
    /// consequences), the claim, `COMMIT`.
    private func completeAndClaimInTransaction(
        _ completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool, now: Int64
    ) async throws -> CycleResult {
        return try await write("commit \(completions.count) completion(s) and claim") {
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
                (result.claimed, result.heldBack) = try await self.claim(claim, on: connection, now: now)
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
        if outcome == .suspended {
            // A job that waits for a message: a send may hold the row now. Its
            // message must be seen below, and an UPDATE that waited for the row
            // would judge its subquery by the snapshot it started with.
            try await connection.run("SELECT 1 FROM tasks WHERE id = \(id.rawValue) FOR UPDATE")
        }
        let requeued = try await connection.rows(
            """
            UPDATE tasks SET status = 'pending', owner = NULL, lease_expires_at = NULL,
                             run_at = CASE WHEN EXISTS (
                                          SELECT 1 FROM task_waits AS w JOIN task_messages AS m
                                          ON m.task_id = w.task_id AND m.topic = w.topic AND m.delivered_at IS NULL
                                          WHERE w.task_id = tasks.id)
                                      THEN \(transitions.now) ELSE coalesce(\(runAt)::bigint, run_at) END,
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

    /// Claims in one statement the due tasks that come first among the
    /// requested (named) jobs in the queues without limits, skipping rows
    /// another transaction has locked (being claimed or finished elsewhere).
    /// Returns them, and whether queues with limits are left to claim from.
    private func claimInOpenQueues(_ request: ClaimRequest, on connection: PostgresConnection, now: Int64)
        async throws -> (claimed: [ClaimedTask], limitedQueues: Bool)
    {
        var statement = PostgresStatement()
        statement.bind(request.owner)
        statement.bind(now)
        statement.bind(Int64(request.limit))
        bindLease(until: request.leaseUntil, now: now, into: &statement)
        try statement.bind(array: request.jobs ?? [])
        try statement.bind(array: request.queues ?? [])
        statement.bind(request.queues == nil)
        var claimed: [ClaimedTask] = []
        var limitedQueues = false
        for row in try await connection.rows(ClaimStatement.self, statement) {
            if row.makeRandomAccess()[0].bytes == nil {
                limitedQueues = true
            } else {
                claimed.append(try PostgresRows.claimed(row))
            }
        }
        return (claimed.sorted { $0.id < $1.id }, limitedQueues)
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
        return try await connection.rows(ClaimCreatedStatement.self, statement).map { try PostgresRows.claimed($0) }
            .sorted { $0.id < $1.id }
    }
}
