import DurableEngine
import PostgresNIO

/// The transitions that several store calls share, run inside one PostgreSQL
/// transaction: inserting tasks, finishing tasks (with their attempt rows,
/// durable callbacks and group failure), and cancelling. The rules are
/// ``TransitionRules``, as on SQLite; this is their PostgreSQL form.
///
/// Concurrency: PostgreSQL runs many such transactions at once. A transaction
/// that finishes tasks first locks the completion counter
/// (``lockCompletionCounter()``), so finishing transactions take turns and
/// commit their completion numbers in order; inserts into a group lock the
/// group's row (`FOR SHARE`) so a shutdown waits for them and then cancels
/// their tasks too; keys are unique in an index, so two creators of one key
/// wait for each other and the second finds the first's task.
struct PostgresTransitions {
    let connection: PostgresConnection
    let now: Int64
    var effects = TransitionEffects()
    /// The last completion number taken in this transaction (read with the lock).
    var lastSequence: Int64?
    /// The counter as it stands in this transaction, to know whether `flush()` must write it.
    var lockedSequence: Int64?
    /// Concurrency keys of tasks finished in this transaction: `flush()` admits
    /// their waiting tasks.
    var freedKeys: Set<String> = []
    /// Admitted, unfinished tasks per concurrency key, as counted in this transaction.
    var admittedByKey: [String: Int] = [:]
    /// Concurrency keys this transaction holds the advisory lock of.
    var lockedKeys: Set<String> = []
    /// Whether the hot statements run prepared (the store's own sessions). On an
    /// application's connection they run unprepared: a statement prepared there
    /// would stay in that session, and one that failed to prepare would fail
    /// every later call on it.
    var preparesStatements = true
    /// Set on an application's connection, whose search path is the
    /// application's: the insert of tasks names Durable's tables in this schema
    /// (and runs unprepared), and ``insertedDatabase`` records the connection's
    /// database.
    var applicationSchema: String?
    /// The database the last insert on an application's connection went to.
    var insertedDatabase: String?

    init(connection: PostgresConnection, now: Int64) {
        self.connection = connection
        self.now = now
    }

    // MARK: Inserting

    mutating func insert(_ tasks: [NewTask]) async throws -> [CreatedTask] {
        var created: [CreatedTask] = []
        created.reserveCapacity(tasks.count)
        var openGroups: Set<GroupID> = []
        var pending: [NewTask] = []
        var pendingSlots: [Int] = []
        var pendingWaits: [Bool] = []
        // Admissions of a key take turns: its lock first, keys in one order.
        try await lockKeys(tasks.compactMap(\.concurrencyKey))
        for task in tasks {
            if let key = task.key {
                // A key is looked up among the rows stored so far, this batch's
                // included; a task it already names is returned, even from a group
                // that has finished since (a re-entered keyed group).
                try await insertRows(pending, waits: pendingWaits, into: &created, at: pendingSlots)
                (pending, pendingSlots, pendingWaits) = ([], [], [])
                if let existing = try await existingTask(forKey: key, matching: task) {
                    created.append(existing)
                    continue
                }
            }
            if let group = task.groupID, !openGroups.contains(group) {
                try await requireOpen(group)
                openGroups.insert(group)
            }
            let waits = try await !admits(task)
            if let key = task.key {
                created.append(try await insertKeyed(task, key: key, waitsForKey: waits))
                continue
            }
            pending.append(task)
            pendingSlots.append(created.count)
            pendingWaits.append(waits)
            created.append(CreatedTask(id: TaskID(0), name: "", job: task.job, existed: false, waitsForKey: waits))
            if pending.count == Self.insertChunk {
                try await insertRows(pending, waits: pendingWaits, into: &created, at: pendingSlots)
                (pending, pendingSlots, pendingWaits) = ([], [], [])
            }
        }
        try await insertRows(pending, waits: pendingWaits, into: &created, at: pendingSlots)
        effects.createdTasks += created.count(where: { !$0.existed })
        return created
    }

    /// Whether ``insert(_:)`` stores `tasks` with one statement: none has a key
    /// or a group (those are looked up or locked first), and they fit one INSERT.
    static func insertsInOneStatement(_ tasks: [NewTask]) -> Bool {
        tasks.count <= insertChunk && tasks.allSatisfy { $0.key == nil && $0.groupID == nil && $0.concurrencyKey == nil }
    }

    /// Whether creating `tasks` at `now` stores a task due later than its
    /// creation (``DueTimeMemory``).
    static func storeLaterWork(_ tasks: [NewTask], now: Int64) -> Bool {
        tasks.contains { $0.runAt > now }
    }

    /// Rows per INSERT statement (each column is one array parameter).
    static let insertChunk = 10_000

    /// Inserts unkeyed tasks, with ids taken from the sequence in the same
    /// statement (default names hold them), and fills their entries.
    private mutating func insertRows(_ tasks: [NewTask], waits: [Bool], into created: inout [CreatedTask], at slots: [Int])
        async throws
    {
        guard !tasks.isEmpty else { return }
        var statement = Self.insertParameters(tasks, now: now)
        let queued = !tasks.allSatisfy({ $0.queue == TaskOptions.defaultQueue && $0.concurrencyKey == nil })
        if queued {
            statement.bind(column: tasks.map(\.queue))
            statement.bind(column: tasks.map(\.concurrencyKey))
            statement.bind(column: tasks.map { $0.concurrencyLimit.map(Int64.init) })
            statement.bind(column: waits)
        }
        let rows: [PostgresRow]
        if let schema = applicationSchema {
            let sql = applicationInsertTasksSQL(queued: queued, schema: schema)
            rows = try await connection.rows(PostgresQuery(unsafeSQL: sql, binds: statement.bindings))
        } else if queued {
            rows = try await hotRows(InsertQueuedTasksStatement.self, statement)
        } else {
            rows = try await hotRows(InsertTasksStatement.self, statement)
        }
        guard rows.count == tasks.count else {
            throw DurableError(.storage, "inserting \(tasks.count) task(s) returned \(rows.count) row(s)")
        }
        for (offset, row) in rows.enumerated() {
            let id: Int64
            let name: String
            if applicationSchema == nil {
                (id, name) = try row.decode((Int64, String).self)
            } else {
                let database: String
                (id, name, database) = try row.decode((Int64, String, String).self)
                insertedDatabase = database
            }
            created[slots[offset]] = CreatedTask(
                id: TaskID(id), name: name, job: tasks[offset].job, existed: false, waitsForKey: waits[offset])
        }
    }

    /// The rows of the hot statement `kind` with `statement`'s parameters,
    /// prepared or not (``preparesStatements``).
    private func hotRows<Kind: HotStatement>(_ kind: Kind.Type, _ statement: PostgresStatement) async throws
        -> [PostgresRow]
    {
        guard preparesStatements else {
            return try await connection.rows(PostgresQuery(unsafeSQL: Kind.sql, binds: statement.bindings))
        }
        return try await connection.rows(kind, statement)
    }

    /// The parameters $1 to $16 of the statements that insert `tasks` (see
    /// ``InsertTasksStatement``).
    static func insertParameters(_ tasks: [NewTask], now: Int64) -> PostgresStatement {
        var statement = PostgresStatement()
        statement.bind(column: tasks.map(\.job))
        statement.bind(column: tasks.map(\.name))
        statement.bind(column: tasks.map(\.input))
        statement.bind(column: tasks.map(\.context))
        statement.bind(column: tasks.map { Int64($0.priority) })
        statement.bind(column: tasks.map(\.runAt))
        statement.bind(column: tasks.map(\.deadline))
        statement.bind(column: tasks.map(\.timeoutMilliseconds))
        statement.bind(column: tasks.map(\.retry))
        statement.bind(column: tasks.map { $0.parentID?.rawValue })
        statement.bind(column: tasks.map(\.detached))
        statement.bind(column: tasks.map { $0.groupID?.rawValue })
        statement.bind(column: tasks.map { $0.callbackOf?.rawValue })
        statement.bind(TransitionRules.defaultTaskNamePrefix)
        statement.bind(now)
        statement.bind(column: tasks.map(\.traceContext))
        return statement
    }

    /// The placeholders of a task row's columns, in the INSERT's order.
    private static func bindColumns(
        of task: NewTask, id: Int64, name: String, now: Int64, waitsForKey: Bool, into statement: inout PostgresStatement
    ) -> String {
        [
            statement.bind(id), statement.bind(task.job), statement.bind(name), statement.bind(task.input),
            statement.bind(task.context), statement.bind(task.key), statement.bind(Int64(task.priority)),
            statement.bind(task.runAt), statement.bind(task.deadline), statement.bind(task.timeoutMilliseconds),
            statement.bind(task.retry), statement.bind(task.parentID?.rawValue), statement.bind(task.detached),
            statement.bind(task.groupID?.rawValue), statement.bind(task.callbackOf?.rawValue), statement.bind(now),
            statement.bind(task.traceContext), statement.bind(task.queue), statement.bind(task.concurrencyKey),
            statement.bind(task.concurrencyLimit.map(Int64.init)), statement.bind(waitsForKey),
        ].joined(separator: ", ")
    }

    /// Inserts a keyed task that no committed task had the key of when looked up;
    /// if a creator of the same key in another transaction commits first (the
    /// unique index waits for it), returns that task (same job and input).
    private func insertKeyed(_ task: NewTask, key: String, waitsForKey: Bool) async throws -> CreatedTask {
        try await connection.run(
            """
            INSERT INTO queues (name, created_at, updated_at) VALUES (\(task.queue), \(now), \(now))
            ON CONFLICT (name) DO NOTHING
            """)
        guard
            let id = try await connection.value(
                "SELECT nextval(pg_get_serial_sequence('tasks', 'id'))", as: Int64.self)
        else { throw DurableError(.storage, "the task id sequence returned nothing") }
        let name = task.name ?? TransitionRules.defaultTaskName(id: id)
        var statement = PostgresStatement(
            """
            INSERT INTO tasks (id, job, name, input, context, key, priority, run_at, deadline, timeout_ms,
                               retry, parent_id, detached, group_id, callback_of, created_at, trace_context, queue,
                               concurrency_key, concurrency_limit, key_waiting) VALUES (
            """)
        statement.append(
            Self.bindColumns(of: task, id: id, name: name, now: now, waitsForKey: waitsForKey, into: &statement))
        statement.append(") ON CONFLICT (key) WHERE key IS NOT NULL DO NOTHING RETURNING id")
        if try await connection.value(statement.query, as: Int64.self) != nil {
            return CreatedTask(id: TaskID(id), name: name, job: task.job, existed: false, waitsForKey: waitsForKey)
        }
        // Another transaction stored the key first and has committed: its task.
        guard let existing = try await existingTask(forKey: key, matching: task) else {
            throw DurableError(.storage, "key \"\(key)\" conflicted, but no task holds it")
        }
        return existing
    }

    /// The task stored under `key`, if it is the same job and input; a key names
    /// one task, whatever its job.
    private func existingTask(forKey key: String, matching task: NewTask) async throws -> CreatedTask? {
        guard
            let row = try await connection.rows("SELECT id, job, name, input FROM tasks WHERE key = \(key)").first
        else { return nil }
        let (id, job, name, input) = try row.decode((Int64, String, String, String).self)
        guard job == task.job else {
            throw DurableError(
                .keyConflict,
                "key \"\(key)\" already names task \(id) of job \(job); it cannot be reused for a task of job "
                    + "\(task.job)")
        }
        guard input == task.input else {
            throw DurableError(
                .keyConflict,
                "key \"\(key)\" already names task \(id) of job \(job), created with input \(input); it cannot be "
                    + "reused with input \(task.input)")
        }
        return CreatedTask(id: TaskID(id), name: name, job: job, existed: true)
    }

    /// Throws unless the group is open; locks its row until the transaction ends,
    /// so that a shutdown waits for this insert and then cancels its tasks too.
    private func requireOpen(_ group: GroupID) async throws {
        guard
            let row = try await connection.rows(
                "SELECT name, state FROM task_groups WHERE id = \(group.rawValue) FOR SHARE"
            ).first
        else { throw DurableError(.groupNotOpen, "task group \(group) does not exist") }
        let (name, stateWord) = try row.decode((String, String).self)
        let state = try StoredWord.decode(GroupState.self, stateWord, column: "state", of: "task group \(group)")
        guard state == .open else {
            let reason = state == .finished ? "is finished" : "is shutting down"
            throw DurableError(.groupNotOpen, "task group \(group) (\(name)) \(reason); no task was created")
        }
    }

    // MARK: Deadlines

    /// Fails the pending tasks whose deadline has passed, with a timeout error.
    mutating func failExpiredPendingTasks() async throws {
        let expired = try await connection.values(
            """
            SELECT id FROM tasks
            WHERE deadline IS NOT NULL AND status IN ('pending', 'running') AND deadline <= \(now)
              AND status = 'pending'
            ORDER BY deadline, id
            FOR UPDATE SKIP LOCKED
            """, as: Int64.self)
        for id in expired {
            try await finishUnowned(TaskID(id), status: .failed, error: .deadlinePassed, cancelling: false, cancelMessage: nil)
        }
    }

    // MARK: Cancelling

    /// Cancels a pending task at once (it will never start), or stores the request
    /// for a running one. Throws ``DurableError/Code/unknownTask``.
    mutating func requestCancel(of id: TaskID, message: String?) async throws -> CancelResult {
        guard
            let row = try await connection.rows(
                "SELECT status, owner FROM tasks WHERE id = \(id.rawValue) FOR UPDATE"
            ).first
        else { throw DurableError(.unknownTask, "no task has id \(id)") }
        let (statusWord, owner) = try row.decode((String, String?).self)
        let status = try StoredWord.decode(TaskStatus.self, statusWord, column: "status", of: "task \(id)")
        switch TransitionRules.cancelDecision(for: status, message: message) {
        case .alreadyFinished:
            return .alreadyFinished
        case .cancelNow(let error):
            try await finishUnowned(id, status: .cancelled, error: error, cancelling: true, cancelMessage: message)
            try await cancelChildren(of: id, message: message)
            return .cancelledPending
        case .requestFromOwner:
            try await connection.run(
                """
                UPDATE tasks SET cancel_requested_at = coalesce(cancel_requested_at, \(now)),
                                 cancel_message = coalesce(\(message)::text, cancel_message)
                WHERE id = \(id.rawValue)
                """)
            effects.cancelRequests.append(RequestedCancel(id: id, owner: owner, message: message))
            try await cancelChildren(of: id, message: message)
            return .requested(owner: owner)
        }
    }

    /// Cancels the unfinished children of a cancelled task (and theirs), except
    /// detached ones, in the same transaction.
    private mutating func cancelChildren(of id: TaskID, message: String?) async throws {
        let children = try await connection.values(
            """
            SELECT id FROM tasks
            WHERE parent_id = \(id.rawValue) AND NOT detached AND status IN ('pending', 'running') ORDER BY id
            """, as: Int64.self)
        let reason = TransitionRules.childCancelMessage(parent: id, message: message)
        for child in children {
            _ = try await requestCancel(of: TaskID(child), message: reason)
        }
    }

    /// Moves an open group to shutting down and cancels its unfinished tasks.
    /// Returns `false` when the group was not open.
    @discardableResult
    mutating func shutDownGroup(_ group: GroupID, failedTask: TaskID?, message: String) async throws -> Bool {
        let changed = try await connection.rows(
            """
            UPDATE task_groups SET state = 'shutting_down', failed_task_id = \(failedTask?.rawValue)
            WHERE id = \(group.rawValue) AND state = 'open' RETURNING id
            """)
        guard !changed.isEmpty else { return false }
        let unfinished = try await connection.values(
            "SELECT id FROM tasks WHERE group_id = \(group.rawValue) AND status IN ('pending', 'running') ORDER BY id",
            as: Int64.self)
        for id in unfinished {
            _ = try await requestCancel(of: TaskID(id), message: message)
        }
        return true
    }
}
