package import DurableEngine
import GRDB

// Submitting, reading, cancelling, callbacks and groups.
extension SQLiteStore {
    package func createTasks(_ tasks: [NewTask], now: Int64) async throws -> [CreatedTask] {
        guard !tasks.isEmpty else { return [] }
        return try await write("create \(tasks.count) task(s)") { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            return try transitions.insert(tasks)
        }
    }

    package func createAndClaimTasks(_ tasks: [NewTask], claim: ClaimRequest, now: Int64) async throws
        -> (created: [CreatedTask], claimed: [ClaimedTask])
    {
        guard !tasks.isEmpty else { return ([], []) }
        return try await write("create and claim \(tasks.count) task(s)") { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            let created = try transitions.insert(tasks)
            let queues = try Self.queueSettings(QueueLimits.distinctQueues(of: tasks), db: db)
            let open = queues.filter { !$0.settings.isPaused && !$0.settings.hasLimits }.map(\.name)
            let due = ClaimRule.dueAmongCreated(created, tasks, claim: claim, now: now) { open.contains($0) }
            let ids = due.map { String($0.rawValue) }
            guard !ids.isEmpty else { return (created, []) }
            let claimed = try Self.claim(
                ids: "[" + ids.joined(separator: ",") + "]", for: claim, queues: Self.queueNames(queues.map { ($0.id, $0.name) }), db: db, now: now)
            return (created, claimed)
        }
    }

    package func setName(of id: TaskID, to name: String) async throws {
        try await write("rename task \(id)") { db in
            try db.execute(sql: "UPDATE durable_tasks SET name = ? WHERE id = ?", arguments: [name, id.rawValue])
            guard db.changesCount > 0 else { throw DurableError(.unknownTask, "no task has id \(id)") }
        }
    }

    package func task(_ id: TaskID) async throws -> TaskRecord? {
        try await read("read task \(id)") { db in
            try Row.fetchOne(
                db, sql: "SELECT \(SQLiteRows.taskColumns) FROM durable_tasks WHERE id = ?", arguments: [id.rawValue]
            ).map(SQLiteRows.task)
        }
    }

    package func outcomes(of ids: [TaskID]) async throws -> StoredOutcomes {
        guard !ids.isEmpty else { return StoredOutcomes() }
        return try await read("read the outcomes of \(ids.count) task(s)") { db in
            var stored = StoredOutcomes()
            var existing = Set<TaskID>()
            // Unfinished tasks are read too, to tell them from tasks that no longer exist.
            let statement = try db.cachedStatement(
                sql: "SELECT \(SQLiteRows.outcomeColumns) FROM durable_tasks WHERE id IN (SELECT value FROM json_each(?))")
            var start = ids.startIndex
            while start < ids.endIndex {
                let end = ids.index(start, offsetBy: 5000, limitedBy: ids.endIndex) ?? ids.endIndex
                let list = "[" + ids[start..<end].map { String($0.rawValue) }.joined(separator: ",") + "]"
                let rows = try Row.fetchCursor(statement, arguments: [list])
                while let row = try rows.next() {
                    existing.insert(TaskID(row["id"] as Int64))
                    if let outcome = SQLiteRows.outcome(row) { stored.outcomes.append(outcome) }
                }
                start = end
            }
            stored.outcomes.sort { $0.completionSequence < $1.completionSequence }
            stored.missing = ids.filter { !existing.contains($0) }
            return stored
        }
    }

    package func latestCompletionSequence() async throws -> Int64 {
        try await read("read the completion counter", Self.completionSequence)
    }

    package func pendingTasksOfOtherJobs(than jobs: [String]) async throws -> [String: Int] {
        try await read("count pending tasks of unknown jobs") { db in
            let known = Set(jobs)
            let count = try db.cachedStatement(
                sql: """
                    SELECT count(*) FROM (
                        SELECT 1 FROM durable_tasks WHERE queue_id = ? AND job = ? AND status = 'pending' AND key_waiting = 0
                        LIMIT 10001)
                    """)
            var counts: [String: Int] = [:]
            for (queue, _, _) in try Self.queueSettings(nil, db: db) {
                for job in try Self.pendingJobs(in: queue, db: db) where !known.contains(job) {
                    counts[job, default: 0] += try Int.fetchOne(count, arguments: [queue, job]) ?? 0
                }
            }
            return counts.mapValues { min($0, 10001) }
        }
    }

    package func requestCancel(of id: TaskID, message: String?, now: Int64) async throws -> (CancelResult, TransitionEffects) {
        try await write("cancel task \(id)") { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            let result = try transitions.requestCancel(of: id, message: message)
            try transitions.flush()
            return (result, transitions.effects)
        }
    }

    package func addDoneCallback(to id: TaskID, job: String, input: String, now: Int64) async throws {
        try await write("add a done callback to task \(id)") { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM durable_tasks WHERE id = ?", arguments: [id.rawValue])
            else { throw DurableError(.unknownTask, "no task has id \(id)") }
            try db.execute(
                sql: "INSERT INTO durable_task_callbacks (task_id, job, input, created_at) VALUES (?, ?, ?, ?)",
                arguments: [id.rawValue, job, input, now])
            let callbackID = db.lastInsertedRowID
            if TaskStatus(rawValue: status)?.isTerminal == true {
                // Added to a finished task: it runs at once.
                let context = try String.fetchOne(
                    db, sql: "SELECT context FROM durable_tasks WHERE id = ?", arguments: [id.rawValue])
                var transitions = SQLiteTransitions(db: db, now: now)
                let created = try transitions.insert([
                    NewTask(
                        job: job, input: input, name: nil, context: context, key: nil, priority: 0, runAt: now,
                        deadline: nil, parentID: nil, groupID: nil, callbackOf: id)
                ])
                try db.execute(
                    sql: "UPDATE durable_task_callbacks SET callback_task_id = ? WHERE id = ?",
                    arguments: [created[0].id.rawValue, callbackID])
            } else {
                try db.execute(sql: "UPDATE durable_tasks SET has_callbacks = 1 WHERE id = ?", arguments: [id.rawValue])
            }
        }
    }

    package func removeDoneCallbacks(from id: TaskID, job: String) async throws -> Int {
        try await write("remove done callbacks from task \(id)") { db in
            try db.execute(
                sql: "DELETE FROM durable_task_callbacks WHERE task_id = ? AND job = ? AND callback_task_id IS NULL",
                arguments: [id.rawValue, job])
            return db.changesCount
        }
    }

    // MARK: Groups

    package func createGroup(name: String?, key: String?, now: Int64) async throws -> GroupRecord {
        try await write("create a task group") { db in
            if let key,
                let row = try Row.fetchOne(db, sql: "SELECT * FROM durable_task_groups WHERE key = ?", arguments: [key])
            {
                return try SQLiteRows.group(row, existed: true)
            }
            try db.execute(
                sql: "INSERT INTO durable_task_groups (name, key, created_at) VALUES (coalesce(?, ''), ?, ?)",
                arguments: [name, key, now])
            let id = db.lastInsertedRowID
            let stored = name ?? TransitionRules.defaultGroupName(id: id)
            if name == nil {
                try db.execute(sql: "UPDATE durable_task_groups SET name = ? WHERE id = ?", arguments: [stored, id])
            }
            return GroupRecord(
                id: GroupID(rawValue: id), name: stored, key: key, state: .open, failedTaskID: nil, existed: false)
        }
    }

    package func group(_ id: GroupID) async throws -> GroupRecord? {
        try await read("read task group \(id)") { db in
            try Row.fetchOne(db, sql: "SELECT * FROM durable_task_groups WHERE id = ?", arguments: [id.rawValue])
                .map { try SQLiteRows.group($0, existed: true) }
        }
    }

    package func shutDownGroup(_ id: GroupID, message: String?, now: Int64) async throws -> TransitionEffects {
        try await write("shut down task group \(id)") { db in
            var transitions = SQLiteTransitions(db: db, now: now)
            try transitions.shutDownGroup(id, failedTask: nil, message: message ?? "task group \(id) is shutting down")
            try transitions.flush()
            return transitions.effects
        }
    }

    package func finishGroup(_ id: GroupID, now: Int64) async throws -> [TaskID] {
        try await write("finish task group \(id)") { db in
            let unfinished = try Int64.fetchAll(
                db,
                sql: "SELECT id FROM durable_tasks WHERE group_id = ? AND status IN ('pending', 'running') ORDER BY id",
                arguments: [id.rawValue])
            guard unfinished.isEmpty else { return unfinished.map { TaskID($0) } }
            try db.execute(
                sql: "UPDATE durable_task_groups SET state = 'finished', finished_at = coalesce(finished_at, ?) WHERE id = ?",
                arguments: [now, id.rawValue])
            return []
        }
    }

    package func groupTasks(_ id: GroupID) async throws -> [TaskID] {
        try await read("list the tasks of group \(id)") { db in
            try Int64.fetchAll(db, sql: "SELECT id FROM durable_tasks WHERE group_id = ? ORDER BY id", arguments: [id.rawValue])
                .map { TaskID($0) }
        }
    }
}
