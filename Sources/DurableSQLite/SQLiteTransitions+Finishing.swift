import DurableEngine
import GRDB

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
extension SQLiteTransitions {
    /// The completion number the next finish will take.
    private mutating func candidateSequence() throws -> Int64 {
        if lastSequence == nil {
            lastSequence = try SQLiteStore.completionSequence(db)
        }
        return (lastSequence ?? 0) + 1
    }

    /// Writes what finishing buffers: the completion counter and the finished runs'
    /// attempt rows; admits the tasks waiting for the concurrency keys of the
    /// tasks finished. Call it once, before the transaction commits (and before
    /// its claim, which may then start the admitted tasks).
    mutating func flush() throws {
        try Self.attemptInsert.run(finishedAttempts, in: db) { statement, row, base in
            try bind(row, to: statement, at: base)
        }
        finishedAttempts.removeAll()
        for key in freedKeys.sorted() { try admitWaitingTasks(of: key) }
        freedKeys.removeAll()
        guard let lastSequence else { return }
        try db.execute(
            sql: "UPDATE durable_counters SET value = ? WHERE name = 'completion_seq'", arguments: [lastSequence])
    }

    /// Finishes one ended run. Returns `false` (and changes nothing) when the task
    /// is no longer running under that owner and attempt.
    mutating func finishRun(_ run: EndedRun) throws -> Bool {
        try finishRuns(CollectionOfOne(run)).isEmpty
    }

    /// Finishes ended runs in order, up to 32 per statement (one
    /// `UPDATE ... FROM (VALUES ...)`: SQLite's per-statement work, and the
    /// temporary b-tree behind `RETURNING`, are shared by the chunk). Completion
    /// numbers are taken in order, without gaps. Returns the runs that were not
    /// theirs to finish any more (taken over, or a repeat of a run finished
    /// earlier in the same call): nothing is changed for them.
    mutating func finishRuns(_ runs: some Collection<EndedRun>) throws -> [TaskID] {
        var stale: [TaskID] = []
        var rest = runs[...]
        while !rest.isEmpty {
            // A chunk never holds one task twice: the join would pick either row.
            let count = Self.distinctPrefix(of: rest) >= MultiRowInsert.chunk ? MultiRowInsert.chunk : 1
            let chunk = Array(rest.prefix(count))
            rest = rest.dropFirst(count)
            let first = try candidateSequence()
            let errors = try chunk.map { try $0.error.map(StoredJSON.encode) }
            var returned: [Int64: Finished] = [:]
            do {
                let statement = try BoundStatement(db, sql: count == 1 ? Self.finishOne : Self.finishMany)
                for (offset, run) in chunk.enumerated() {
                    let base = Int32(offset * Self.finishColumns)
                    try statement.bind(run.id.rawValue, at: base + 1)
                    try statement.bind(run.status.rawValue, at: base + 2)
                    try statement.bind(run.result, at: base + 3)
                    try statement.bind(errors[offset], at: base + 4)
                    try statement.bind(now, at: base + 5)
                    try statement.bind(first + Int64(offset), at: base + 6)
                    try statement.bind(run.owner, at: base + 7)
                    try statement.bind(run.attempt, at: base + 8)
                }
                while try statement.step() {
                    returned[statement.int64(0)] = Finished(
                        groupID: statement.optionalInt64(1), hasCallbacks: statement.bool(2),
                        cancelMessage: statement.optionalString(3), concurrencyKey: statement.optionalString(4))
                }
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
                    try db.execute(
                        sql: "UPDATE durable_tasks SET completion_seq = ? WHERE id = ?", arguments: [next, run.id.rawValue])
                }
                sequences.append(next)
                next += 1
            }
            lastSequence = next - 1
            for (offset, run) in chunk.enumerated() {
                guard let sequence = sequences[offset], let finished = returned[run.id.rawValue] else { continue }
                finishedAttempts.append(
                    AttemptRow(
                        taskID: run.id.rawValue, attempt: run.attempt, owner: run.owner, startedAt: run.startedAt,
                        outcome: AttemptOutcome(ending: run.status), error: errors[offset]))
                try afterFinish(
                    run.id, finished, sequence: sequence, status: run.status, result: run.result, error: run.error)
            }
        }
        return stale
    }

    private static let finishColumns = 8

    /// How many runs at the start of `runs` (up to a chunk) are of distinct tasks.
    private static func distinctPrefix(of runs: some Collection<EndedRun>) -> Int {
        var seen = Set<TaskID>()
        for run in runs.prefix(MultiRowInsert.chunk) {
            guard seen.insert(run.id).inserted else { break }
        }
        return seen.count
    }

    private static func finishStatement(rows: Int) -> String {
        let values = Array(repeating: "(?, ?, ?, ?, ?, ?, ?, ?)", count: rows).joined(separator: ", ")
        return """
            UPDATE durable_tasks AS t
            SET status = v.column2, result = v.column3, error = v.column4, finished_at = v.column5,
                completion_seq = v.column6, owner = NULL, lease_expires_at = NULL
            FROM (VALUES \(values)) AS v
            WHERE t.id = v.column1 AND t.owner = v.column7 AND t.attempt = v.column8 AND t.status = 'running'
            RETURNING id, group_id, has_callbacks, cancel_message, concurrency_key
            """
    }

    private static let finishOne = finishStatement(rows: 1)
    private static let finishMany = finishStatement(rows: MultiRowInsert.chunk)

    /// Finishes a task that no live worker runs (pending, or running for a dead
    /// owner), recording a cancel request when `cancelMessage` is given.
    @discardableResult
    mutating func finishUnowned(
        _ id: TaskID, status: TaskStatus, error: StoredError, cancelling: Bool, cancelMessage: String?
    ) throws -> Bool {
        let sequence = try candidateSequence()
        let statement = try db.cachedStatement(
            sql: """
                UPDATE durable_tasks SET status = ?, error = ?, finished_at = ?, completion_seq = ?,
                                 owner = NULL, lease_expires_at = NULL,
                                 cancel_requested_at = CASE WHEN ? THEN coalesce(cancel_requested_at, ?) ELSE cancel_requested_at END,
                                 cancel_message = coalesce(?, cancel_message)
                WHERE id = ? AND status IN ('pending', 'running')
                RETURNING group_id, has_callbacks, cancel_message, concurrency_key
                """)
        guard
            let row = try Row.fetchOne(
                statement,
                arguments: [
                    status.rawValue, try StoredJSON.encode(error), now, sequence, cancelling, now, cancelMessage,
                    id.rawValue,
                ])
        else { return false }
        let finished = Finished(
            groupID: row["group_id"], hasCallbacks: row["has_callbacks"], cancelMessage: row["cancel_message"],
            concurrencyKey: row["concurrency_key"])
        lastSequence = sequence
        try afterFinish(id, finished, sequence: sequence, status: status, result: nil, error: error)
        return true
    }

    /// What a finishing update returns about the task.
    private struct Finished {
        var groupID: Int64?
        var hasCallbacks: Bool
        var cancelMessage: String?
        var concurrencyKey: String?
    }

    /// What a finish causes in the same transaction: the outcome for waiters,
    /// and the consequences ``TransitionRules`` names (callback tasks, the
    /// shutdown of the task's group if it failed).
    private mutating func afterFinish(
        _ id: TaskID, _ finished: Finished, sequence: Int64, status: TaskStatus, result: String?, error: StoredError?
    ) throws {
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
            case .createCallbackTasks: try createCallbackTasks(of: id)
            case .shutDownGroup(let group, let message): try shutDownGroup(group, failedTask: id, message: message)
            }
        }
    }

    /// Inserts the attempt row of a run that ended (at once; finished runs are buffered).
    func recordAttempt(
        _ id: TaskID, attempt: Int, owner: String, startedAt: Int64, outcome: AttemptOutcome, error: String?
    ) throws {
        let row = AttemptRow(
            taskID: id.rawValue, attempt: attempt, owner: owner, startedAt: startedAt, outcome: outcome, error: error)
        try Self.attemptInsert.run(CollectionOfOne(row), in: db) { statement, row, base in
            try bind(row, to: statement, at: base)
        }
    }

    private static let attemptInsert = MultiRowInsert(
        "INSERT OR IGNORE INTO durable_task_attempts (task_id, attempt, owner, started_at, finished_at, outcome, error)",
        columns: 7)

    private func bind(_ row: AttemptRow, to statement: borrowing BoundStatement, at base: Int32) throws {
        try statement.bind(row.taskID, at: base + 1)
        try statement.bind(row.attempt, at: base + 2)
        try statement.bind(row.owner, at: base + 3)
        try statement.bind(row.startedAt, at: base + 4)
        try statement.bind(now, at: base + 5)
        try statement.bind(row.outcome.rawValue, at: base + 6)
        try statement.bind(row.error, at: base + 7)
    }

    /// Creates one task per stored callback of a task that just finished, in the
    /// order the callbacks were added; each inherits the task's context.
    private mutating func createCallbackTasks(of id: TaskID) throws {
        let callbacks = try Row.fetchAll(
            db,
            sql: "SELECT id, job, input FROM durable_task_callbacks WHERE task_id = ? AND callback_task_id IS NULL ORDER BY id",
            arguments: [id.rawValue])
        guard !callbacks.isEmpty else { return }
        let context = try String.fetchOne(db, sql: "SELECT context FROM durable_tasks WHERE id = ?", arguments: [id.rawValue])
        for callback in callbacks {
            let task = TransitionRules.callbackTask(
                job: callback["job"], input: callback["input"], context: context, of: id, now: now)
            let created = try insert([task])
            try db.execute(
                sql: "UPDATE durable_task_callbacks SET callback_task_id = ? WHERE id = ?",
                arguments: [created[0].id.rawValue, callback["id"] as Int64])
        }
    }
}
