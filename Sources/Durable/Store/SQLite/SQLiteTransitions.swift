import GRDB

/// The transitions that several store calls share, run inside one write
/// transaction: inserting tasks, finishing a task (with its attempt row, durable
/// callbacks and group failure), and cancelling.
///
/// Everything a finishing task causes happens in the same transaction as the
/// finish itself: callback tasks are created, and the first failure in a group
/// moves it to shutting down and cancels its siblings. `effects` collects the
/// outcome of every task that reached a terminal state and every cancel request
/// stored for a running task, for waking waiters and delivering cancellations.
struct SQLiteTransitions {
    let db: Database
    let now: Int64
    private(set) var effects = TransitionEffects()
    private var lastSequence: Int64?
    private var lastTaskID: Int64?
    /// Attempt rows of finished runs, inserted together by `flush()`.
    private var finishedAttempts: [AttemptRow] = []

    init(db: Database, now: Int64) {
        self.db = db
        self.now = now
    }

    // MARK: Inserting

    mutating func insert(_ tasks: [NewTask]) throws -> [CreatedTask] {
        var created: [CreatedTask] = []
        created.reserveCapacity(tasks.count)
        var openGroups: Set<GroupID> = []
        var rows: [NewRow] = []
        for task in tasks {
            if let key = task.key {
                // A key is looked up among the rows stored so far, this batch's included.
                try insertRows(&rows)
                if let existing = try existingTask(forKey: key, matching: task) {
                    created.append(existing)
                    continue
                }
            }
            if let group = task.groupID, !openGroups.contains(group) {
                try requireOpen(group)
                openGroups.insert(group)
            }
            let id = try nextTaskID()
            let name = task.name ?? "Task-\(id)"
            rows.append(NewRow(id: id, name: name, task: task))
            created.append(CreatedTask(id: TaskID(id), name: name, job: task.job, existed: false))
            effects.createdTasks += 1
            if task.key != nil || rows.count == MultiRowInsert.chunk { try insertRows(&rows) }
        }
        try insertRows(&rows)
        return created
    }

    /// A task row waiting to be inserted with others.
    private struct NewRow {
        var id: Int64
        var name: String
        var task: NewTask
    }

    private static let taskInsert = MultiRowInsert(
        """
        INSERT INTO tasks (id, job, name, input, context, key, priority, run_at, deadline, timeout_ms,
                           retry, parent_id, detached, group_id, callback_of, created_at)
        """,
        columns: 16)

    /// Inserts the buffered new tasks and empties the buffer.
    private func insertRows(_ rows: inout [NewRow]) throws {
        let now = now
        try Self.taskInsert.run(rows, in: db) { statement, row, base in
            let task = row.task
            try statement.bind(row.id, at: base + 1)
            try statement.bind(task.job, at: base + 2)
            try statement.bind(row.name, at: base + 3)
            try statement.bind(task.input, at: base + 4)
            try statement.bind(task.context, at: base + 5)
            try statement.bind(task.key, at: base + 6)
            try statement.bind(task.priority, at: base + 7)
            try statement.bind(task.runAt, at: base + 8)
            try statement.bind(task.deadline, at: base + 9)
            try statement.bind(task.timeoutMilliseconds, at: base + 10)
            try statement.bind(task.retry, at: base + 11)
            try statement.bind(task.parentID?.rawValue, at: base + 12)
            try statement.bind(task.detached, at: base + 13)
            try statement.bind(task.groupID?.rawValue, at: base + 14)
            try statement.bind(task.callbackOf?.rawValue, at: base + 15)
            try statement.bind(now, at: base + 16)
        }
        rows.removeAll(keepingCapacity: true)
    }

    /// Ids come from `sqlite_sequence`, so they (and `Task-<id>` names) never repeat,
    /// also after rows are deleted.
    private mutating func nextTaskID() throws -> Int64 {
        let last = try lastTaskID
            ?? Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'tasks'") ?? 0
        lastTaskID = last + 1
        return last + 1
    }

    private func existingTask(forKey key: String, matching task: NewTask) throws -> CreatedTask? {
        let statement = try db.cachedStatement(sql: "SELECT id, name, input FROM tasks WHERE job = ? AND key = ?")
        guard let row = try Row.fetchOne(statement, arguments: [task.job, key]) else { return nil }
        let input: String = row["input"]
        guard input == task.input else {
            throw DurableError(
                .keyConflict,
                "key \"\(key)\" of job \(task.job) already names task \(row["id"] as Int64), created with input "
                    + "\(input); it cannot be reused with input \(task.input)")
        }
        return CreatedTask(id: TaskID(row["id"] as Int64), name: row["name"] as String, job: task.job, existed: true)
    }

    private func requireOpen(_ group: GroupID) throws {
        let row = try Row.fetchOne(db, sql: "SELECT name, state FROM task_groups WHERE id = ?", arguments: [group.rawValue])
        guard let row else { throw DurableError(.groupNotOpen, "task group \(group) does not exist") }
        let state: String = row["state"]
        guard state == GroupRecord.State.open.rawValue else {
            let reason = state == GroupRecord.State.finished.rawValue ? "is finished" : "is shutting down"
            throw DurableError(.groupNotOpen, "task group \(group) (\(row["name"] as String)) \(reason); no task was created")
        }
    }

    // MARK: Finishing

    /// The completion number the next finish will take.
    private mutating func candidateSequence() throws -> Int64 {
        if lastSequence == nil {
            lastSequence = try Int64.fetchOne(
                db, sql: "SELECT value FROM durable_counters WHERE name = 'completion_seq'") ?? 0
        }
        return (lastSequence ?? 0) + 1
    }

    /// Writes what finishing buffers: the completion counter and the finished runs'
    /// attempt rows. Call it once, before the transaction commits.
    func flush() throws {
        try Self.attemptInsert.run(finishedAttempts, in: db) { statement, row, base in
            try bind(row, to: statement, at: base)
        }
        guard let lastSequence else { return }
        try db.execute(
            sql: "UPDATE durable_counters SET value = ? WHERE name = 'completion_seq'", arguments: [lastSequence])
    }

    /// Finishes a run fenced by owner and attempt. Returns `false` (and changes
    /// nothing) when the task is no longer running under that owner and attempt.
    mutating func finishRun(
        _ id: TaskID, owner: String, attempt: Int, startedAt: Int64,
        status: TaskStatus, result: String?, error: StoredError?
    ) throws -> Bool {
        let sequence = try candidateSequence()
        let errorText = try error.map(StoredJSON.encode)
        // A SELECT and an UPDATE by rowid: an UPDATE ... RETURNING would build and
        // drop a temporary b-tree for its returned row, per task.
        let finished: Finished
        do {
            let running = try BoundStatement(
                db,
                sql: """
                    SELECT group_id, has_callbacks, cancel_message FROM tasks
                    WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running'
                    """)
            try running.bind(id.rawValue, at: 1)
            try running.bind(owner, at: 2)
            try running.bind(attempt, at: 3)
            guard try running.step() else { return false }
            finished = Finished(
                groupID: running.optionalInt64(0), hasCallbacks: running.bool(1),
                cancelMessage: running.optionalString(2))
        }
        do {
            let update = try BoundStatement(
                db,
                sql: """
                    UPDATE tasks SET status = ?, result = ?, error = ?, finished_at = ?, completion_seq = ?,
                                     owner = NULL, lease_expires_at = NULL
                    WHERE id = ?
                    """)
            try update.bind(status.rawValue, at: 1)
            try update.bind(result, at: 2)
            try update.bind(errorText, at: 3)
            try update.bind(now, at: 4)
            try update.bind(sequence, at: 5)
            try update.bind(id.rawValue, at: 6)
            try update.run()
        }
        finishedAttempts.append(
            AttemptRow(
                taskID: id.rawValue, attempt: attempt, owner: owner, startedAt: startedAt, outcome: status.rawValue,
                error: errorText))
        try afterFinish(id, finished, sequence: sequence, status: status, result: result, error: error)
        return true
    }

    /// Finishes a task that no live worker runs (pending, or running for a dead
    /// owner), recording a cancel request when `cancelMessage` is given.
    @discardableResult
    mutating func finishUnowned(
        _ id: TaskID, status: TaskStatus, error: StoredError, cancelling: Bool, cancelMessage: String?
    ) throws -> Bool {
        let sequence = try candidateSequence()
        let statement = try db.cachedStatement(
            sql: """
                UPDATE tasks SET status = ?, error = ?, finished_at = ?, completion_seq = ?,
                                 owner = NULL, lease_expires_at = NULL,
                                 cancel_requested_at = CASE WHEN ? THEN coalesce(cancel_requested_at, ?) ELSE cancel_requested_at END,
                                 cancel_message = coalesce(?, cancel_message)
                WHERE id = ? AND status IN ('pending', 'running')
                RETURNING group_id, has_callbacks, cancel_message
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
            groupID: row["group_id"], hasCallbacks: row["has_callbacks"], cancelMessage: row["cancel_message"])
        try afterFinish(id, finished, sequence: sequence, status: status, result: nil, error: error)
        return true
    }

    /// What a finishing update returns about the task.
    private struct Finished {
        var groupID: Int64?
        var hasCallbacks: Bool
        var cancelMessage: String?
    }

    private mutating func afterFinish(
        _ id: TaskID, _ finished: Finished, sequence: Int64, status: TaskStatus, result: String?, error: StoredError?
    ) throws {
        lastSequence = sequence
        effects.finished.append(
            TaskOutcome(
                id: id, status: status, result: result, error: error, cancelMessage: finished.cancelMessage,
                completionSequence: sequence))
        if finished.hasCallbacks {
            try createCallbackTasks(of: id)
        }
        if status == .failed, let group = finished.groupID {
            try failGroup(GroupID(rawValue: group), failedTask: id)
        }
    }

    /// Inserts the attempt row of a run that ended (at once; finished runs are buffered).
    func recordAttempt(
        _ id: TaskID, attempt: Int, owner: String, startedAt: Int64, outcome: String, error: String?
    ) throws {
        let row = AttemptRow(
            taskID: id.rawValue, attempt: attempt, owner: owner, startedAt: startedAt, outcome: outcome, error: error)
        try Self.attemptInsert.run(CollectionOfOne(row), in: db) { statement, row, base in
            try bind(row, to: statement, at: base)
        }
    }

    /// One `task_attempts` row.
    private struct AttemptRow {
        var taskID: Int64
        var attempt: Int
        var owner: String
        var startedAt: Int64
        var outcome: String
        var error: String?
    }

    private static let attemptInsert = MultiRowInsert(
        "INSERT OR IGNORE INTO task_attempts (task_id, attempt, owner, started_at, finished_at, outcome, error)",
        columns: 7)

    private func bind(_ row: AttemptRow, to statement: borrowing BoundStatement, at base: Int32) throws {
        try statement.bind(row.taskID, at: base + 1)
        try statement.bind(row.attempt, at: base + 2)
        try statement.bind(row.owner, at: base + 3)
        try statement.bind(row.startedAt, at: base + 4)
        try statement.bind(now, at: base + 5)
        try statement.bind(row.outcome, at: base + 6)
        try statement.bind(row.error, at: base + 7)
    }

    /// Creates one task per stored callback of a task that just finished, in the
    /// order the callbacks were added; each inherits the task's context.
    private mutating func createCallbackTasks(of id: TaskID) throws {
        let callbacks = try Row.fetchAll(
            db,
            sql: "SELECT id, job, input FROM task_callbacks WHERE task_id = ? AND callback_task_id IS NULL ORDER BY id",
            arguments: [id.rawValue])
        guard !callbacks.isEmpty else { return }
        let context = try String.fetchOne(db, sql: "SELECT context FROM tasks WHERE id = ?", arguments: [id.rawValue])
        for callback in callbacks {
            let task = NewTask(
                job: callback["job"] as String, input: callback["input"] as String, name: nil, context: context, key: nil, priority: 0,
                runAt: now, deadline: nil, parentID: nil, groupID: nil, callbackOf: id)
            let created = try insert([task])
            try db.execute(
                sql: "UPDATE task_callbacks SET callback_task_id = ? WHERE id = ?",
                arguments: [created[0].id.rawValue, callback["id"] as Int64])
        }
    }

    // MARK: Cancelling

    /// Cancels a pending task at once (it will never start), or stores the request
    /// for a running one. Throws ``DurableError/Code/unknownTask``.
    mutating func requestCancel(of id: TaskID, message: String?) throws -> CancelResult {
        let row = try Row.fetchOne(
            db, sql: "SELECT status, owner FROM tasks WHERE id = ?", arguments: [id.rawValue])
        guard let row else { throw DurableError(.unknownTask, "no task has id \(id)") }
        let status = TaskStatus(rawValue: row["status"] as String) ?? .failed
        switch status {
        case .succeeded, .failed, .cancelled:
            return .alreadyFinished
        case .pending:
            try finishUnowned(id, status: .cancelled, error: .cancellation(message), cancelling: true, cancelMessage: message)
            try cancelChildren(of: id, message: message)
            return .cancelledPending
        case .running:
            try db.execute(
                sql: """
                    UPDATE tasks SET cancel_requested_at = coalesce(cancel_requested_at, ?),
                                     cancel_message = coalesce(?, cancel_message)
                    WHERE id = ?
                    """,
                arguments: [now, message, id.rawValue])
            let owner: String? = row["owner"]
            effects.cancelRequests.append(RequestedCancel(id: id, owner: owner, message: message))
            try cancelChildren(of: id, message: message)
            return .requested(owner: owner)
        }
    }

    /// Cancels the unfinished children of a cancelled task (and theirs), except
    /// detached ones, in the same transaction.
    private mutating func cancelChildren(of id: TaskID, message: String?) throws {
        let children = try Int64.fetchAll(
            db,
            sql: """
                SELECT id FROM tasks
                WHERE parent_id = ? AND detached = 0 AND status IN ('pending', 'running') ORDER BY id
                """,
            arguments: [id.rawValue])
        let reason = "parent task \(id) was cancelled" + (message.map { ": \($0)" } ?? "")
        for child in children {
            _ = try requestCancel(of: TaskID(child), message: reason)
        }
    }

    /// Moves an open group to shutting down and cancels its unfinished tasks.
    /// Returns `false` when the group was not open.
    @discardableResult
    mutating func shutDownGroup(_ group: GroupID, failedTask: TaskID?, message: String) throws -> Bool {
        try db.execute(
            sql: "UPDATE task_groups SET state = 'shutting_down', failed_task_id = ? WHERE id = ? AND state = 'open'",
            arguments: [failedTask?.rawValue, group.rawValue])
        guard db.changesCount > 0 else { return false }
        let unfinished = try Int64.fetchAll(
            db,
            sql: "SELECT id FROM tasks WHERE group_id = ? AND status IN ('pending', 'running') ORDER BY id",
            arguments: [group.rawValue])
        for id in unfinished {
            _ = try requestCancel(of: TaskID(id), message: message)
        }
        return true
    }

    private mutating func failGroup(_ group: GroupID, failedTask: TaskID) throws {
        try shutDownGroup(
            group, failedTask: failedTask,
            message: "task group \(group) is shutting down: task \(failedTask) failed")
    }
}

extension StoredError {
    /// The error stored for a cancelled task.
    static func cancellation(_ message: String?) -> StoredError {
        StoredError(kind: .cancelled, type: String(reflecting: CancelledError.self), message: message ?? "cancelled")
    }
}
