package import DurableEngine
import PostgresNIO

// Checkpoints inside tasks.
extension PostgresStore {
    package func steps(of id: TaskID) async throws -> [StoredStep] {
        try await read("read the steps of task \(id)") { connection in
            try await connection.rows(
                """
                SELECT position, name, occurrence, kind, status, result, error, attempt, started_at, created_at
                FROM task_steps WHERE task_id = \(id.rawValue) ORDER BY position
                """
            ).map { row in
                let (position, name, occurrence, kind, status, result, error, attempt, startedAt, storedAt) =
                    try row.decode((Int64, String, Int64, String, String, String?, String?, Int64, Int64?, Int64).self)
                let step = "step \(position) of task \(id)"
                return StoredStep(
                    position: Int(position), name: name, occurrence: Int(occurrence),
                    kind: try StoredWord.decode(StepKind.self, kind, column: "kind", of: step),
                    status: try StoredWord.decode(TaskStatus.self, status, column: "status", of: step),
                    result: result, error: StoredJSON.decodeError(error), attempt: Int(attempt), startedAt: startedAt,
                    storedAt: storedAt)
            }
        }
    }

    package func recordStep(_ step: StoredStep, of id: TaskID, owner: String, attempt: Int, now: Int64) async throws
        -> Bool
    {
        let error = try step.error.map(StoredJSON.encode)
        return try await write("store step \(step.name) of task \(id)") { connection in
            try await Self.insertStep(step, error: error, of: id, owner: owner, attempt: attempt, now: now, on: connection)
        }
    }

    /// Stores `step` (its error as stored JSON) as a checkpoint of task `id`,
    /// fenced: only while `owner` runs `attempt` of it. Returns whether it did.
    static func insertStep(
        _ step: StoredStep, error: String?, of id: TaskID, owner: String, attempt: Int, now: Int64,
        on connection: PostgresConnection
    ) async throws -> Bool {
        // The task's row is locked while the step is stored, so a takeover
        // cannot slip in between the check and the insert.
        let stored = try await connection.rows(
            """
            INSERT INTO task_steps (task_id, position, name, occurrence, kind, status, result, error, attempt,
                                    created_at, started_at)
            SELECT \(id.rawValue), \(Int64(step.position)), \(step.name), \(Int64(step.occurrence)),
                   \(step.kind.rawValue), \(step.status.rawValue), \(step.result)::text, \(error)::text,
                   \(Int64(attempt)), \(now), \(step.startedAt)::bigint
            FROM tasks
            WHERE id = \(id.rawValue) AND owner = \(owner) AND attempt = \(Int64(attempt)) AND status = 'running'
            FOR SHARE
            RETURNING task_id
            """)
        return !stored.isEmpty
    }
}
