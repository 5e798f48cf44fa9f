package import DurableEngine
import PostgresNIO

// Messages to tasks and events from them. A send and a receive of one task
// take turns on the task's row (FOR UPDATE), so a message sent
// while the job decides to wait is seen by its requeue.
extension PostgresStore: MessagingStore {
    package func send(to id: TaskID, topic: String, payload: String, key: String?, now: Int64) async throws -> Bool {
        try await write("send a message to task \(id)") { connection in
            guard
                let status = try await connection.value(
                    "SELECT status FROM tasks WHERE id = \(id.rawValue) FOR UPDATE", as: String.self)
            else { throw DurableError(.unknownTask, "no task has id \(id)") }
            if TaskStatus(rawValue: status)?.isTerminal ?? false {
                throw DurableError(
                    .invalidState, "task \(id) has \(status); a message of topic \"\(topic)\" to it would never be received")
            }
            let inserted = try await connection.rows(
                """
                INSERT INTO task_messages (task_id, topic, payload, key, sent_at)
                VALUES (\(id.rawValue), \(topic), \(payload), \(key)::text, \(now))
                ON CONFLICT (task_id, key) WHERE key IS NOT NULL DO NOTHING
                RETURNING id
                """)
            guard !inserted.isEmpty else { return false }
            try await connection.run(
                """
                UPDATE tasks SET run_at = least(run_at, \(now))
                WHERE id = \(id.rawValue) AND status = 'pending'
                  AND EXISTS (SELECT 1 FROM task_waits WHERE task_id = \(id.rawValue) AND topic = \(topic))
                """)
            return true
        }
    }

    package func receive(_ request: ReceiveRequest, now: Int64) async throws -> ReceiveOutcome {
        let id = request.taskID.rawValue
        return try await write("receive a message of task \(request.taskID)") { connection in
            let owns = try await connection.rows(
                """
                SELECT 1 FROM tasks
                WHERE id = \(id) AND owner = \(request.owner) AND attempt = \(Int64(request.attempt)) AND status = 'running'
                FOR UPDATE
                """)
            guard !owns.isEmpty else { return .lostTask }
            let outcome: ReceiveOutcome
            if let row = try await connection.rows(
                """
                SELECT id, payload FROM task_messages
                WHERE task_id = \(id) AND topic = \(request.topic) AND delivered_at IS NULL ORDER BY id LIMIT 1
                """
            ).first {
                let (message, payload) = try row.decode((Int64, String).self)
                try await connection.run(
                    """
                    UPDATE task_messages SET delivered_at = \(now), delivered_attempt = \(Int64(request.attempt))
                    WHERE id = \(message)
                    """)
                outcome = .received(payload)
            } else if let deadline = request.deadline, deadline <= now {
                outcome = .timedOut
            } else {
                try await connection.run(
                    """
                    INSERT INTO task_waits (task_id, topic, deadline, created_at)
                    VALUES (\(id), \(request.topic), \(request.deadline)::bigint, \(now))
                    ON CONFLICT (task_id, topic) DO UPDATE SET deadline = excluded.deadline, created_at = excluded.created_at
                    """)
                return .waiting
            }
            try await connection.run("DELETE FROM task_waits WHERE task_id = \(id) AND topic = \(request.topic)")
            var step = request.checkpoint
            step.result =
                switch outcome {
                case .received(let payload): ReceiveRequest.received(payload)
                default: ReceiveRequest.timedOut
                }
            _ = try await Self.insertStep(
                step, error: nil, of: request.taskID, owner: request.owner, attempt: request.attempt, now: now,
                on: connection)
            return outcome
        }
    }

    package func setEvent(of id: TaskID, key: String, value: String, owner: String, attempt: Int, now: Int64)
        async throws -> Bool
    {
        try await write("publish event \"\(key)\" of task \(id)") { connection in
            !(try await connection.rows(
                """
                INSERT INTO task_events (task_id, key, value, updated_at)
                SELECT \(id.rawValue), \(key), \(value), \(now)
                WHERE EXISTS (SELECT 1 FROM tasks WHERE id = \(id.rawValue) AND owner = \(owner)
                                AND attempt = \(Int64(attempt)) AND status = 'running')
                ON CONFLICT (task_id, key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at
                RETURNING key
                """
            ).isEmpty)
        }
    }

    package func events(of id: TaskID) async throws -> [EventRecord] {
        try await read("read the events of task \(id)") { connection in
            try await connection.rows(
                "SELECT key, value, updated_at FROM task_events WHERE task_id = \(id.rawValue) ORDER BY key"
            ).map { row in
                let (key, value, updated) = try row.decode((String, String, Int64).self)
                return EventRecord(taskID: id, key: key, value: value, updatedAt: updated)
            }
        }
    }

    package func messages(of id: TaskID) async throws -> [MessageRecord] {
        try await read("read the messages of task \(id)") { connection in
            try await connection.rows(
                """
                SELECT id, topic, payload, key, sent_at, delivered_at, delivered_attempt FROM task_messages
                WHERE task_id = \(id.rawValue) ORDER BY id
                """
            ).map { row in
                let (message, topic, payload, key, sent, delivered, attempt) = try row.decode(
                    (Int64, String, String, String?, Int64, Int64?, Int64?).self)
                return MessageRecord(
                    id: message, taskID: id, topic: topic, payload: payload, key: key, sentAt: sent,
                    deliveredAt: delivered, deliveredAttempt: attempt.map(Int.init))
            }
        }
    }
}
