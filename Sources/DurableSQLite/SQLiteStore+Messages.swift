package import DurableEngine
import GRDB

// Messages to tasks and events from them.
extension SQLiteStore: MessagingStore {
    package func send(to id: TaskID, topic: String, payload: String, key: String?, now: Int64) async throws -> Bool {
        try await write("send a message to task \(id)") { db in
            guard let status = try String.fetchOne(db, sql: "SELECT status FROM durable_tasks WHERE id = ?", arguments: [id.rawValue])
            else { throw DurableError(.unknownTask, "no task has id \(id)") }
            if TaskStatus(rawValue: status)?.isTerminal ?? false {
                throw DurableError(
                    .invalidState, "task \(id) has \(status); a message of topic \"\(topic)\" to it would never be received")
            }
            try db.execute(
                sql: """
                    INSERT INTO durable_task_messages (task_id, topic, payload, key, sent_at) VALUES (?, ?, ?, ?, ?)
                    ON CONFLICT (task_id, key) WHERE key IS NOT NULL DO NOTHING
                    """,
                arguments: [id.rawValue, topic, payload, key, now])
            guard db.changesCount > 0 else { return false }
            // A task that waits for the topic is due now.
            try db.execute(
                sql: """
                    UPDATE durable_tasks SET run_at = min(run_at, ?)
                    WHERE id = ? AND status = 'pending'
                      AND EXISTS (SELECT 1 FROM durable_task_waits WHERE task_id = ? AND topic = ?)
                    """,
                arguments: [now, id.rawValue, id.rawValue, topic])
            return true
        }
    }

    package func receive(_ request: ReceiveRequest, now: Int64) async throws -> ReceiveOutcome {
        let id = request.taskID.rawValue
        return try await write("receive a message of task \(request.taskID)") { db in
            let owns = try Bool.fetchOne(
                db,
                sql: "SELECT EXISTS (SELECT 1 FROM durable_tasks WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running')",
                arguments: [id, request.owner, request.attempt]) ?? false
            guard owns else { return .lostTask }
            var outcome: ReceiveOutcome
            if let message = try Row.fetchOne(
                db,
                sql: """
                    SELECT id, payload FROM durable_task_messages
                    WHERE task_id = ? AND topic = ? AND delivered_at IS NULL ORDER BY id LIMIT 1
                    """,
                arguments: [id, request.topic])
            {
                try db.execute(
                    sql: "UPDATE durable_task_messages SET delivered_at = ?, delivered_attempt = ? WHERE id = ?",
                    arguments: [now, request.attempt, message["id"] as Int64])
                outcome = .received(message["payload"])
            } else if let deadline = request.deadline, deadline <= now {
                outcome = .timedOut
            } else {
                try db.execute(
                    sql: "INSERT OR REPLACE INTO durable_task_waits (task_id, topic, deadline, created_at) VALUES (?, ?, ?, ?)",
                    arguments: [id, request.topic, request.deadline, now])
                return .waiting
            }
            try db.execute(
                sql: "DELETE FROM durable_task_waits WHERE task_id = ? AND topic = ?", arguments: [id, request.topic])
            var step = request.checkpoint
            step.result = switch outcome {
            case .received(let payload): ReceiveRequest.received(payload)
            default: ReceiveRequest.timedOut
            }
            _ = try Self.insertStep(
                step, error: nil, of: request.taskID, owner: request.owner, attempt: request.attempt, now: now, db: db)
            return outcome
        }
    }

    package func setEvent(of id: TaskID, key: String, value: String, owner: String, attempt: Int, now: Int64)
        async throws -> Bool
    {
        try await write("publish event \"\(key)\" of task \(id)") { db in
            try db.execute(
                sql: """
                    INSERT INTO durable_task_events (task_id, key, value, updated_at)
                    SELECT ?1, ?2, ?3, ?4
                    WHERE EXISTS (SELECT 1 FROM durable_tasks WHERE id = ?1 AND owner = ?5 AND attempt = ?6 AND status = 'running')
                    ON CONFLICT (task_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                    """,
                arguments: [id.rawValue, key, value, now, owner, attempt])
            return db.changesCount > 0
        }
    }

    package func events(of id: TaskID) async throws -> [EventRecord] {
        try await read("read the events of task \(id)") { db in
            try Row.fetchAll(
                db, sql: "SELECT key, value, updated_at FROM durable_task_events WHERE task_id = ? ORDER BY key",
                arguments: [id.rawValue]
            ).map { EventRecord(taskID: id, key: $0["key"], value: $0["value"], updatedAt: $0["updated_at"]) }
        }
    }

    package func messages(of id: TaskID) async throws -> [MessageRecord] {
        try await read("read the messages of task \(id)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT id, topic, payload, key, sent_at, delivered_at, delivered_attempt FROM durable_task_messages
                    WHERE task_id = ? ORDER BY id
                    """,
                arguments: [id.rawValue]
            ).map {
                MessageRecord(
                    id: $0["id"], taskID: id, topic: $0["topic"], payload: $0["payload"], key: $0["key"],
                    sentAt: $0["sent_at"], deliveredAt: $0["delivered_at"], deliveredAttempt: $0["delivered_attempt"])
            }
        }
    }
}
