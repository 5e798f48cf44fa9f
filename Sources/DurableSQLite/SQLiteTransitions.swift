import DurableEngine
import GRDB

/// The transitions that several store calls share, run inside one write
/// transaction: inserting tasks, finishing a task (with its attempt row, durable
/// callbacks and group failure), and cancelling.
///
/// Everything a finishing task causes (``TransitionRules``) happens in the same
/// transaction as the finish itself: callback tasks are created, and the first
/// failure in a group moves it to shutting down and cancels its siblings. `effects` collects the
/// outcome of every task that reached a terminal state and every cancel request
/// stored for a running task, for waking waiters and delivering cancellations.
struct SQLiteTransitions {
    let db: Database
    let now: Int64
    var effects = TransitionEffects()
    /// The last completion number taken in this transaction (read on first use).
    var lastSequence: Int64?
    private var lastTaskID: Int64?
    /// Attempt rows of finished runs, inserted together by `flush()`.
    var finishedAttempts: [AttemptRow] = []
    /// Concurrency keys of tasks finished in this transaction: `flush()` admits
    /// their waiting tasks.
    var freedKeys: Set<String> = []
    /// Admitted, unfinished tasks per concurrency key, as counted in this transaction.
    private var admittedByKey: [String: Int] = [:]

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
        let queueIDs = try ensureQueues(of: tasks)
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
            let name = task.name ?? TransitionRules.defaultTaskName(id: id)
            let waits = try !admits(task)
            rows.append(NewRow(id: id, name: name, task: task, queueID: queueIDs[task.queue] ?? 0, waitsForKey: waits))
            created.append(CreatedTask(id: TaskID(id), name: name, job: task.job, existed: false, waitsForKey: waits))
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
        var queueID: Int64
        var waitsForKey: Bool
    }

    private static let taskInsert = MultiRowInsert(
        """
        INSERT INTO durable_tasks (id, job, name, input, context, key, priority, run_at, deadline, timeout_ms,
                           retry, parent_id, detached, group_id, callback_of, created_at, trace_context, queue_id,
                           concurrency_key, concurrency_limit, key_waiting)
        """,
        columns: 21)

    /// The insert of tasks in the default queue without a concurrency key, the
    /// common case: those columns keep their defaults (binding them costs per row).
    private static let plainTaskInsert = MultiRowInsert(
        """
        INSERT INTO durable_tasks (id, job, name, input, context, key, priority, run_at, deadline, timeout_ms,
                           retry, parent_id, detached, group_id, callback_of, created_at, trace_context)
        """,
        columns: 17)

    /// Inserts the buffered new tasks and empties the buffer.
    private func insertRows(_ rows: inout [NewRow]) throws {
        let now = now
        let plain = rows.allSatisfy { $0.queueID == 0 && $0.task.concurrencyKey == nil }
        try (plain ? Self.plainTaskInsert : Self.taskInsert).run(rows, in: db) { statement, row, base in
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
            try statement.bind(task.traceContext, at: base + 17)
            guard !plain else { return }
            try statement.bind(row.queueID, at: base + 18)
            try statement.bind(task.concurrencyKey, at: base + 19)
            try statement.bind(task.concurrencyLimit, at: base + 20)
            try statement.bind(row.waitsForKey, at: base + 21)
        }
        rows.removeAll(keepingCapacity: true)
    }

    /// Gives each queue of `tasks` its row (claims serve the queues that have
    /// one) and returns their ids by name.
    private func ensureQueues(of tasks: [NewTask]) throws -> [String: Int64] {
        var ids: [String: Int64] = [:]
        for queue in QueueLimits.distinctQueues(of: tasks) where queue != TaskOptions.defaultQueue {
            try db.cachedStatement(sql: "INSERT OR IGNORE INTO durable_queues (name, created_at, updated_at) VALUES (?, ?, ?)")
                .execute(arguments: [queue, now, now])
            ids[queue] = try Int64.fetchOne(
                db.cachedStatement(sql: "SELECT id FROM durable_queues WHERE name = ?"), arguments: [queue])
        }
        return ids
    }

    /// Whether a new task may be claimed at once: it has no concurrency key, or
    /// its key has room (then it counts as admitted from now on).
    private mutating func admits(_ task: NewTask) throws -> Bool {
        guard let key = task.concurrencyKey else { return true }
        let admitted = try admittedCount(of: key)
        guard admitted < task.concurrencyLimit ?? 1 else { return false }
        admittedByKey[key] = admitted + 1
        return true
    }

    /// The admitted, unfinished tasks of `key`, counted once per transaction.
    private mutating func admittedCount(of key: String) throws -> Int {
        if let known = admittedByKey[key] { return known }
        let count = try Int.fetchOne(
            db.cachedStatement(
                sql: """
                    SELECT count(*) FROM durable_tasks
                    WHERE concurrency_key = ? AND key_waiting = 0 AND status IN ('pending', 'running')
                    """),
            arguments: [key]) ?? 0
        admittedByKey[key] = count
        return count
    }

    /// Admits the tasks of `key` that wait, in claim order, as far as the key
    /// has room under the limit of the first of them. Returns how many.
    @discardableResult
    mutating func admitWaitingTasks(of key: String) throws -> Int {
        guard
            let limit = try Int.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT concurrency_limit FROM durable_tasks
                        WHERE concurrency_key = ? AND key_waiting = 1 AND status IN ('pending', 'running')
                        ORDER BY priority DESC, run_at, id LIMIT 1
                        """),
                arguments: [key])
        else { return 0 }
        admittedByKey[key] = nil
        let room = limit - (try admittedCount(of: key))
        guard room > 0 else { return 0 }
        try db.cachedStatement(
            sql: """
                UPDATE durable_tasks SET key_waiting = 0 WHERE id IN (
                    SELECT id FROM durable_tasks WHERE concurrency_key = ? AND key_waiting = 1 AND status IN ('pending', 'running')
                    ORDER BY priority DESC, run_at, id LIMIT ?)
                """
        ).execute(arguments: [key, room])
        let admitted = db.changesCount
        admittedByKey[key] = nil
        effects.createdTasks += admitted
        return admitted
    }

    /// Ids come from `sqlite_sequence`, so they (and `Task-<id>` names) never repeat,
    /// also after rows are deleted.
    private mutating func nextTaskID() throws -> Int64 {
        let last = try lastTaskID
            ?? Int64.fetchOne(db, sql: "SELECT seq FROM sqlite_sequence WHERE name = 'durable_tasks'") ?? 0
        lastTaskID = last + 1
        return last + 1
    }

    /// The task stored under `key`, if it is the same job and input; a key names
    /// one task, whatever its job. (Files from before keys were global may hold a
    /// key under two jobs: the row of the same job is preferred.)
    private func existingTask(forKey key: String, matching task: NewTask) throws -> CreatedTask? {
        let statement = try db.cachedStatement(
            sql: "SELECT id, job, name, input FROM durable_tasks WHERE key = ? ORDER BY job = ? DESC, id LIMIT 1")
        guard let row = try Row.fetchOne(statement, arguments: [key, task.job]) else { return nil }
        let id: Int64 = row["id"]
        let job: String = row["job"]
        guard job == task.job else {
            throw DurableError(
                .keyConflict,
                "key \"\(key)\" already names task \(id) of job \(job); it cannot be reused for a task of job "
                    + "\(task.job)")
        }
        let input: String = row["input"]
        guard input == task.input else {
            throw DurableError(
                .keyConflict,
                "key \"\(key)\" already names task \(id) of job \(job), created with input \(input); it cannot be "
                    + "reused with input \(task.input)")
        }
        return CreatedTask(id: TaskID(id), name: row["name"] as String, job: job, existed: true)
    }

    private func requireOpen(_ group: GroupID) throws {
        let row = try Row.fetchOne(db, sql: "SELECT name, state FROM durable_task_groups WHERE id = ?", arguments: [group.rawValue])
        guard let row else { throw DurableError(.groupNotOpen, "task group \(group) does not exist") }
        let state = try StoredWord.decode(GroupState.self, row["state"], column: "state", of: "task group \(group)")
        guard state == .open else {
            let reason = state == .finished ? "is finished" : "is shutting down"
            throw DurableError(.groupNotOpen, "task group \(group) (\(row["name"] as String)) \(reason); no task was created")
        }
    }

    // MARK: Deadlines

    /// Fails the pending tasks whose deadline has passed, with a timeout error.
    mutating func failExpiredPendingTasks() throws {
        // The index's own condition, repeated, lets SQLite use it.
        let expired = try Int64.fetchAll(
            db.cachedStatement(
                sql: """
                    SELECT id FROM durable_tasks
                    WHERE deadline IS NOT NULL AND status IN ('pending', 'running') AND deadline <= ? AND status = 'pending'
                    ORDER BY deadline, id
                    """),
            arguments: [now])
        for id in expired {
            try finishUnowned(TaskID(id), status: .failed, error: .deadlinePassed, cancelling: false, cancelMessage: nil)
        }
    }

    // MARK: Cancelling

    /// Cancels a pending task at once (it will never start), or stores the request
    /// for a running one. Throws ``DurableError/Code/unknownTask``.
    mutating func requestCancel(of id: TaskID, message: String?) throws -> CancelResult {
        let row = try Row.fetchOne(
            db, sql: "SELECT status, owner FROM durable_tasks WHERE id = ?", arguments: [id.rawValue])
        guard let row else { throw DurableError(.unknownTask, "no task has id \(id)") }
        let status = try StoredWord.decode(TaskStatus.self, row["status"], column: "status", of: "task \(id)")
        switch TransitionRules.cancelDecision(for: status, message: message) {
        case .alreadyFinished:
            return .alreadyFinished
        case .cancelNow(let error):
            try finishUnowned(id, status: .cancelled, error: error, cancelling: true, cancelMessage: message)
            try cancelChildren(of: id, message: message)
            return .cancelledPending
        case .requestFromOwner:
            try db.execute(
                sql: """
                    UPDATE durable_tasks SET cancel_requested_at = coalesce(cancel_requested_at, ?),
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
                SELECT id FROM durable_tasks
                WHERE parent_id = ? AND detached = 0 AND status IN ('pending', 'running') ORDER BY id
                """,
            arguments: [id.rawValue])
        let reason = TransitionRules.childCancelMessage(parent: id, message: message)
        for child in children {
            _ = try requestCancel(of: TaskID(child), message: reason)
        }
    }

    /// Moves an open group to shutting down and cancels its unfinished tasks.
    /// Returns `false` when the group was not open.
    @discardableResult
    mutating func shutDownGroup(_ group: GroupID, failedTask: TaskID?, message: String) throws -> Bool {
        try db.execute(
            sql: "UPDATE durable_task_groups SET state = 'shutting_down', failed_task_id = ? WHERE id = ? AND state = 'open'",
            arguments: [failedTask?.rawValue, group.rawValue])
        guard db.changesCount > 0 else { return false }
        let unfinished = try Int64.fetchAll(
            db,
            sql: "SELECT id FROM durable_tasks WHERE group_id = ? AND status IN ('pending', 'running') ORDER BY id",
            arguments: [group.rawValue])
        for id in unfinished {
            _ = try requestCancel(of: TaskID(id), message: message)
        }
        return true
    }
}
