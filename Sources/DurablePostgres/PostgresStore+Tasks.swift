package import DurableEngine
import PostgresNIO

// Submitting, reading, cancelling, callbacks and groups.
extension PostgresStore {
    package func createTasks(_ tasks: [NewTask], now: Int64) async throws -> [CreatedTask] {
        guard !tasks.isEmpty else { return [] }
        // Tasks without keys or groups go in with one statement.
        let single = PostgresTransitions.insertsInOneStatement(tasks)
        let later = PostgresTransitions.storeLaterWork(tasks, now: now)
        return try await write("create \(tasks.count) task(s)", singleStatement: single, storesLaterWork: later) {
            connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            return try await transitions.insert(tasks)
        }
    }

    package func createAndClaimTasks(_ tasks: [NewTask], claim: ClaimRequest, now: Int64) async throws
        -> (created: [CreatedTask], claimed: [ClaimedTask])
    {
        guard !tasks.isEmpty else { return ([], []) }
        let later = PostgresTransitions.storeLaterWork(tasks, now: now)
        if PostgresTransitions.insertsInOneStatement(tasks), tasks.allSatisfy({ $0.queue == TaskOptions.defaultQueue }) {
            return try await write(
                "create and claim \(tasks.count) task(s)", singleStatement: true, storesLaterWork: later
            ) { connection in
                try await self.insertAndClaim(tasks, claim: claim, on: connection, now: now)
            }
        }
        return try await write("create and claim \(tasks.count) task(s)", storesLaterWork: later) { connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            let created = try await transitions.insert(tasks)
            let open = try await Self.queueSettings(QueueLimits.distinctQueues(of: tasks), on: connection)
                .filter { !$0.settings.isPaused && !$0.settings.hasLimits }.map(\.name)
            let ids = ClaimRule.dueAmongCreated(created, tasks, claim: claim, now: now) { open.contains($0) }
                .map(\.rawValue)
            guard !ids.isEmpty else { return (created, []) }
            let claimed = try await self.claim(ids: ids, for: claim, on: connection, now: now)
            return (created, claimed)
        }
    }

    /// Inserts `tasks` (of the default queue, without keys, groups or
    /// concurrency keys) and claims those ``ClaimRule`` admits, in one statement
    /// (``InsertAndClaimTasksStatement``): when the queue is not open (paused,
    /// or given limits), none.
    private func insertAndClaim(_ tasks: [NewTask], claim: ClaimRequest, on connection: PostgresConnection, now: Int64)
        async throws -> (created: [CreatedTask], claimed: [ClaimedTask])
    {
        // The rule orders ties by id; the statement takes ids in the tasks' order.
        let placeholders = tasks.enumerated().map { offset, task in
            CreatedTask(id: TaskID(Int64(offset)), name: "", job: task.job, existed: false, waitsForKey: false)
        }
        let claims = Set(ClaimRule.dueAmongCreated(placeholders, tasks, claim: claim, now: now) { _ in true })
        var statement = PostgresTransitions.insertParameters(tasks, now: now)
        statement.bind(column: placeholders.map { claims.contains($0.id) })
        statement.bind(claim.owner)
        bindLease(until: claim.leaseUntil, now: now, into: &statement)
        statement.bind(TaskOptions.defaultQueue)
        let rows = try await connection.rows(InsertAndClaimTasksStatement.self, statement)
        guard rows.count == tasks.count else {
            throw DurableError(.storage, "inserting \(tasks.count) task(s) returned \(rows.count) row(s)")
        }
        var created: [CreatedTask] = []
        var claimed: [ClaimedTask] = []
        for row in rows {
            var columns = Columns(row)
            if TaskStatus(rawValue: try columns.next()) == .running {
                let task = try PostgresRows.claimed(row, from: 1)
                claimed.append(task)
                created.append(CreatedTask(id: task.id, name: task.name, job: task.job, existed: false, waitsForKey: false))
            } else {
                let (id, job, name) = (try columns.next() as Int64, try columns.next() as String, try columns.next() as String)
                created.append(CreatedTask(id: TaskID(id), name: name, job: job, existed: false, waitsForKey: false))
            }
        }
        return (created, claimed.sorted { $0.id < $1.id })
    }

    package func setName(of id: TaskID, to name: String) async throws {
        try await write("rename task \(id)") { connection in
            let changed = try await connection.rows("UPDATE tasks SET name = \(name) WHERE id = \(id.rawValue) RETURNING id")
            guard !changed.isEmpty else { throw DurableError(.unknownTask, "no task has id \(id)") }
        }
    }

    package func task(_ id: TaskID) async throws -> TaskRecord? {
        try await read("read task \(id)") { connection in
            try await connection.rows(
                "SELECT \(unescaped: PostgresRows.taskColumns) FROM tasks WHERE id = \(id.rawValue)"
            ).first.map(PostgresRows.task)
        }
    }

    package func outcomes(of ids: [TaskID]) async throws -> StoredOutcomes {
        guard !ids.isEmpty else { return StoredOutcomes() }
        return try await read("read the outcomes of \(ids.count) task(s)") { connection in
            var stored = StoredOutcomes()
            var existing = Set<TaskID>()
            var start = ids.startIndex
            while start < ids.endIndex {
                let end = min(start + 5000, ids.endIndex)
                var statement = PostgresStatement("SELECT \(PostgresRows.outcomeColumns) FROM tasks WHERE id = ANY(")
                statement.append(try statement.bind(array: ids[start..<end].map(\.rawValue)) + ")")
                for row in try await connection.rows(statement.query) {
                    let (id, outcome) = try PostgresRows.outcome(row)
                    existing.insert(id)
                    if let outcome { stored.outcomes.append(outcome) }
                }
                start = end
            }
            stored.outcomes.sort { $0.completionSequence < $1.completionSequence }
            stored.missing = ids.filter { !existing.contains($0) }
            return stored
        }
    }

    package func latestCompletionSequence() async throws -> Int64 {
        try await read("read the completion counter") { connection in
            try await Self.completionSequence(on: connection)
        }
    }

    package func pendingTasksOfOtherJobs(than jobs: [String]) async throws -> [String: Int] {
        try await read("count pending tasks of unknown jobs") { connection in
            let known = Set(jobs)
            var counts: [String: Int] = [:]
            for (queue, _) in try await Self.queueSettings(nil, on: connection) {
                for job in try await Self.pendingJobs(in: queue, on: connection) where !known.contains(job) {
                    counts[job, default: 0] += Int(
                        try await connection.value(
                            """
                            SELECT count(*) FROM (
                                SELECT 1 FROM tasks
                                WHERE queue = \(queue) AND job = \(job) AND status = 'pending' AND NOT key_waiting
                                LIMIT 10001) AS p
                            """, as: Int64.self) ?? 0)
                }
            }
            return counts.mapValues { min($0, 10001) }
        }
    }

    package func requestCancel(of id: TaskID, message: String?, now: Int64) async throws
        -> (CancelResult, TransitionEffects)
    {
        try await write("cancel task \(id)") { connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            try await transitions.lockCompletionCounter()
            let result = try await transitions.requestCancel(of: id, message: message)
            try await transitions.flush()
            return (result, transitions.effects)
        }
    }

    package func addDoneCallback(to id: TaskID, job: String, input: String, now: Int64) async throws {
        try await write("add a done callback to task \(id)") { connection in
            // The row lock orders this against the task's finish: either the finish
            // sees the callback, or this sees the task finished.
            guard
                let row = try await connection.rows(
                    "SELECT status, context FROM tasks WHERE id = \(id.rawValue) FOR UPDATE"
                ).first
            else { throw DurableError(.unknownTask, "no task has id \(id)") }
            let (status, context) = try row.decode((String, String?).self)
            guard
                let callbackID = try await connection.value(
                    """
                    INSERT INTO task_callbacks (task_id, job, input, created_at)
                    VALUES (\(id.rawValue), \(job), \(input), \(now)) RETURNING id
                    """, as: Int64.self)
            else { throw DurableError(.storage, "storing a callback returned no id") }
            if TaskStatus(rawValue: status)?.isTerminal == true {
                // Added to a finished task: it runs at once.
                var transitions = PostgresTransitions(connection: connection, now: now)
                let created = try await transitions.insert([
                    NewTask(
                        job: job, input: input, name: nil, context: context, key: nil, priority: 0, runAt: now,
                        deadline: nil, parentID: nil, groupID: nil, callbackOf: id)
                ])
                try await connection.run(
                    "UPDATE task_callbacks SET callback_task_id = \(created[0].id.rawValue) WHERE id = \(callbackID)")
            } else {
                try await connection.run("UPDATE tasks SET has_callbacks = TRUE WHERE id = \(id.rawValue)")
            }
        }
    }

    package func removeDoneCallbacks(from id: TaskID, job: String) async throws -> Int {
        try await write("remove done callbacks from task \(id)") { connection in
            // The task's row lock orders this against its finish, which creates the
            // callbacks' tasks: a callback removed here never runs.
            try await connection.run("SELECT 1 FROM tasks WHERE id = \(id.rawValue) FOR UPDATE")
            return try await connection.rows(
                """
                DELETE FROM task_callbacks WHERE task_id = \(id.rawValue) AND job = \(job) AND callback_task_id IS NULL
                RETURNING id
                """
            ).count
        }
    }

    // MARK: Groups

    package func createGroup(name: String?, key: String?, now: Int64) async throws -> GroupRecord {
        try await write("create a task group") { connection in
            if let key,
                let row = try await connection.rows(
                    "SELECT \(unescaped: PostgresRows.groupColumns) FROM task_groups WHERE key = \(key)"
                ).first
            {
                return try PostgresRows.group(row, existed: true)
            }
            guard
                let id = try await connection.value(
                    """
                    INSERT INTO task_groups (name, key, created_at) VALUES (coalesce(\(name)::text, ''), \(key), \(now))
                    ON CONFLICT (key) DO NOTHING RETURNING id
                    """, as: Int64.self)
            else {
                // Another transaction created the group of this key and committed.
                guard
                    let row = try await connection.rows(
                        "SELECT \(unescaped: PostgresRows.groupColumns) FROM task_groups WHERE key = \(key)"
                    ).first
                else { throw DurableError(.storage, "group key \(key ?? "") conflicted, but no group holds it") }
                return try PostgresRows.group(row, existed: true)
            }
            let stored = name ?? TransitionRules.defaultGroupName(id: id)
            if name == nil {
                try await connection.run("UPDATE task_groups SET name = \(stored) WHERE id = \(id)")
            }
            return GroupRecord(
                id: GroupID(rawValue: id), name: stored, key: key, state: .open, failedTaskID: nil, existed: false)
        }
    }

    package func group(_ id: GroupID) async throws -> GroupRecord? {
        try await read("read task group \(id)") { connection in
            try await connection.rows(
                "SELECT \(unescaped: PostgresRows.groupColumns) FROM task_groups WHERE id = \(id.rawValue)"
            ).first.map { try PostgresRows.group($0, existed: true) }
        }
    }

    package func shutDownGroup(_ id: GroupID, message: String?, now: Int64) async throws -> TransitionEffects {
        try await write("shut down task group \(id)") { connection in
            var transitions = PostgresTransitions(connection: connection, now: now)
            try await transitions.lockCompletionCounter()
            try await transitions.shutDownGroup(
                id, failedTask: nil, message: message ?? "task group \(id) is shutting down")
            try await transitions.flush()
            return transitions.effects
        }
    }

    package func finishGroup(_ id: GroupID, now: Int64) async throws -> [TaskID] {
        try await write("finish task group \(id)") { connection in
            // Locked first, so no insert into the group commits in between.
            try await connection.run("SELECT id FROM task_groups WHERE id = \(id.rawValue) FOR UPDATE")
            let unfinished = try await connection.values(
                """
                SELECT id FROM tasks WHERE group_id = \(id.rawValue) AND status IN ('pending', 'running') ORDER BY id
                """, as: Int64.self)
            guard unfinished.isEmpty else { return unfinished.map { TaskID($0) } }
            try await connection.run(
                """
                UPDATE task_groups SET state = 'finished', finished_at = coalesce(finished_at, \(now))
                WHERE id = \(id.rawValue)
                """)
            return []
        }
    }

    package func groupTasks(_ id: GroupID) async throws -> [TaskID] {
        try await read("list the tasks of group \(id)") { connection in
            try await connection.values(
                "SELECT id FROM tasks WHERE group_id = \(id.rawValue) ORDER BY id", as: Int64.self
            ).map { TaskID($0) }
        }
    }
}
