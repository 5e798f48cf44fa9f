import DurableEngine
import PostgresNIO

/// One `task_attempts` row.
struct AttemptRow {
    var taskID: Int64
    var attempt: Int
    var owner: String
    var startedAt: Int64
    var outcome: AttemptOutcome
    var error: String?
}

// Finishing: ended runs, tasks no worker runs, their attempt rows, callbacks and
// completion numbers.
extension PostgresTransitions {
    /// Locks the completion counter until the transaction ends and reads it. Every
    /// transaction that may finish a task calls this before it locks any task
    /// row (or lets ``finishRuns(_:)``'s first statement lock it first), so
    /// finishing transactions take turns in one order (no deadlock among them)
    /// and their completion numbers commit in order.
    mutating func lockCompletionCounter() async throws {
        guard lastSequence == nil else { return }
        let stored = try await connection.value(
            "SELECT value FROM durable_counters WHERE name = 'completion_seq' FOR UPDATE", as: Int64.self)
        lastSequence = stored ?? 0
        lockedSequence = lastSequence
    }

    /// The completion number the next finish will take.
    private mutating func candidateSequence() async throws -> Int64 {
        try await lockCompletionCounter()
        return (lastSequence ?? 0) + 1
    }

    /// Writes the completion counter, unless it already holds the last number
    /// taken. Call it once, before the transaction commits.
    mutating func flush() async throws {
        try await admitWaitingTasks(of: Array(freedKeys))
        freedKeys.removeAll()
        guard let lastSequence, lastSequence != lockedSequence else { return }
        try await connection.run(
            "UPDATE durable_counters SET value = \(lastSequence) WHERE name = 'completion_seq'")
        lockedSequence = lastSequence
    }

    /// Finishes one ended run. Returns `false` (and changes nothing) when the task
    /// is no longer running under that owner and attempt.
    mutating func finishRun(_ run: EndedRun) async throws -> Bool {
        try await finishRuns([run]).isEmpty
    }

    /// Finishes ended runs in order, many per statement; completion numbers are
    /// taken in order, without gaps. Returns the runs that were not theirs to
    /// finish any more (taken over, or a repeat of a run finished earlier in the
    /// same call): nothing is changed for them.
    mutating func finishRuns(_ runs: [EndedRun]) async throws -> [TaskID] {
        var stale: [TaskID] = []
        var rest = runs[...]
        while !rest.isEmpty {
            // A chunk never holds one task twice: the join would pick either row.
            let count = Self.distinctPrefix(of: rest)
            let chunk = Array(rest.prefix(count))
            rest = rest.dropFirst(count)
            // The counter not locked yet: the statement locks it, setting the
            // chunk's numbers aside.
            let reserving = lastSequence == nil ? chunk.count : 0
            var statement = PostgresStatement()
            try statement.bind(endedRuns: chunk)
            statement.bind(now)
            statement.bind(lastSequence.map { $0 + 1 })
            statement.bind(Int64(reserving))
            var returned: [Int64: Finished] = [:]
            var firstNumber: Int64?
            for row in try await connection.rows(FinishRunsStatement.self, statement) {
                let (first, id, group, callbacks, message, key) = try row.decode(
                    (Int64?, Int64?, Int64?, Bool?, String?, String?).self)
                firstNumber = first
                if let id {
                    returned[id] = Finished(
                        groupID: group, hasCallbacks: callbacks ?? false, cancelMessage: message, concurrencyKey: key)
                }
            }
            guard let first = firstNumber else {
                throw DurableError(.storage, "the completion counter (durable_counters, completion_seq) is missing")
            }
            if reserving > 0 {
                lastSequence = first - 1
                lockedSequence = first - 1 + Int64(reserving)
            }
            // A stale run took no number: the finished runs after it move down, in
            // order, so each moves into a number already vacated.
            var sequences: [Int64?] = []
            var next = first
            for (offset, run) in chunk.enumerated() {
                guard returned[run.id.rawValue] != nil else {
                    stale.append(run.id)
                    sequences.append(nil)
                    continue
                }
                if next != first + Int64(offset) {
                    try await connection.run(
                        "UPDATE tasks SET completion_seq = \(next) WHERE id = \(run.id.rawValue)")
                }
                sequences.append(next)
                next += 1
            }
            lastSequence = next - 1
            for (offset, run) in chunk.enumerated() {
                guard let sequence = sequences[offset], let finished = returned[run.id.rawValue] else { continue }
                try await afterFinish(
                    run.id, finished, sequence: sequence, status: run.status, result: run.result, error: run.error)
            }
        }
        return stale
    }

    /// How many runs at the start of `runs` (up to 500) are of distinct tasks.
    private static func distinctPrefix(of runs: ArraySlice<EndedRun>) -> Int {
        var seen = Set<TaskID>()
        for run in runs.prefix(500) {
            guard seen.insert(run.id).inserted else { break }
        }
        return seen.count
    }

    /// Finishes a task that no live worker runs (pending, or running for a dead
    /// owner), recording a cancel request when `cancelling`.
    @discardableResult
    mutating func finishUnowned(
        _ id: TaskID, status: TaskStatus, error: StoredError, cancelling: Bool, cancelMessage: String?
    ) async throws -> Bool {
        let sequence = try await candidateSequence()
        let errorText = try StoredJSON.encode(error)
        guard
            let row = try await connection.rows(
                """
                UPDATE tasks SET status = \(status.rawValue), error = \(errorText), finished_at = \(now),
                                 completion_seq = \(sequence), owner = NULL, lease_expires_at = NULL,
                                 cancel_requested_at = CASE WHEN \(cancelling) THEN coalesce(cancel_requested_at, \(now))
                                                            ELSE cancel_requested_at END,
                                 cancel_message = coalesce(\(cancelMessage)::text, cancel_message)
                WHERE id = \(id.rawValue) AND status IN ('pending', 'running')
                RETURNING group_id, has_callbacks, cancel_message, concurrency_key
                """
            ).first
        else { return false }
        let (group, callbacks, message, key) = try row.decode((Int64?, Bool, String?, String?).self)
        lastSequence = sequence
        try await afterFinish(
            id, Finished(groupID: group, hasCallbacks: callbacks, cancelMessage: message, concurrencyKey: key),
            sequence: sequence, status: status, result: nil, error: error)
        return true
    }

    /// What a finishing update returns about the task.
    private struct Finished {
        var groupID: Int64?
        var hasCallbacks: Bool
        var cancelMessage: String?
        var concurrencyKey: String?
    }

    /// What a finish causes in the same transaction: the outcome for waiters, and
    /// the consequences ``TransitionRules`` names.
    private mutating func afterFinish(
        _ id: TaskID, _ finished: Finished, sequence: Int64, status: TaskStatus, result: String?, error: StoredError?
    ) async throws {
        effects.finished.append(
            TaskOutcome(
                id: id, status: status, result: result, error: error, cancelMessage: finished.cancelMessage,
                completionSequence: sequence))
        if let key = finished.concurrencyKey { freedKeys.insert(key) }
        let consequences = TransitionRules.consequences(
            ofFinishing: id, status: status, groupID: finished.groupID.map(GroupID.init(rawValue:)),
            hasCallbacks: finished.hasCallbacks)
        for consequence in consequences {
            switch consequence {
            case .createCallbackTasks: try await createCallbackTasks(of: id)
            case .shutDownGroup(let group, let message):
                try await shutDownGroup(group, failedTask: id, message: message)
            }
        }
    }

    /// Inserts the attempt row of a run that ended (at once; finished runs are buffered).
    func recordAttempt(
        _ id: TaskID, attempt: Int, owner: String, startedAt: Int64, outcome: AttemptOutcome, error: String?
    ) async throws {
        try await insertAttempts([
            AttemptRow(
                taskID: id.rawValue, attempt: attempt, owner: owner, startedAt: startedAt, outcome: outcome,
                error: error)
        ])
    }

    private func insertAttempts(_ rows: [AttemptRow]) async throws {
        guard !rows.isEmpty else { return }
        var statement = PostgresStatement()
        let columns = [
            statement.bind(column: rows.map(\.taskID)) + "::bigint[]",
            statement.bind(column: rows.map { Int64($0.attempt) }) + "::bigint[]",
            statement.bind(column: rows.map(\.owner)) + "::text[]",
            statement.bind(column: rows.map(\.startedAt)) + "::bigint[]",
            statement.bind(column: rows.map(\.outcome.rawValue)) + "::text[]",
            statement.bind(column: rows.map(\.error)) + "::text[]",
        ]
        statement.append(
            """
            INSERT INTO task_attempts (task_id, attempt, owner, started_at, finished_at, outcome, error)
            SELECT a.task_id, a.attempt, a.owner, a.started_at, \(statement.bind(now)), a.outcome, a.error
            FROM unnest(\(columns.joined(separator: ", "))) AS a(task_id, attempt, owner, started_at, outcome, error)
            ON CONFLICT DO NOTHING
            """)
        try await connection.run(statement.query)
    }

    /// Creates one task per stored callback of a task that just finished, in the
    /// order the callbacks were added; each inherits the task's context.
    private mutating func createCallbackTasks(of id: TaskID) async throws {
        let callbacks = try await connection.rows(
            """
            SELECT c.id, c.job, c.input, t.context FROM task_callbacks AS c JOIN tasks AS t ON t.id = c.task_id
            WHERE c.task_id = \(id.rawValue) AND c.callback_task_id IS NULL ORDER BY c.id
            """)
        for callback in callbacks {
            let (callbackID, job, input, context) = try callback.decode((Int64, String, String, String?).self)
            let task = TransitionRules.callbackTask(job: job, input: input, context: context, of: id, now: now)
            let created = try await insert([task])
            try await connection.run(
                "UPDATE task_callbacks SET callback_task_id = \(created[0].id.rawValue) WHERE id = \(callbackID)")
        }
    }
}
