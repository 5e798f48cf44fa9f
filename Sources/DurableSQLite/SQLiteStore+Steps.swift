package import DurableEngine
import GRDB

// Checkpoints inside tasks.
extension SQLiteStore {
    package func steps(of id: TaskID) async throws -> [StoredStep] {
        try await read("read the steps of task \(id)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT position, name, occurrence, kind, status, result, error, attempt, started_at, created_at
                    FROM durable_task_steps WHERE task_id = ? ORDER BY position
                    """,
                arguments: [id.rawValue]
            ).map { row in
                let position: Int = row[0]
                let step = "step \(position) of task \(id)"
                return StoredStep(
                    position: position, name: row[1] as String, occurrence: row[2] as Int,
                    kind: try StoredWord.decode(StepKind.self, row[3], column: "kind", of: step),
                    status: try StoredWord.decode(TaskStatus.self, row[4], column: "status", of: step),
                    result: row[5] as String?,
                    error: StoredJSON.decodeError(row[6] as String?), attempt: row[7] as Int,
                    startedAt: row[8] as Int64?, storedAt: row[9] as Int64)
            }
        }
    }

    package func recordStep(_ step: StoredStep, of id: TaskID, owner: String, attempt: Int, now: Int64) async throws -> Bool {
        let error = try step.error.map(StoredJSON.encode)
        return try await write("store step \(step.name) of task \(id)") { db in
            try Self.insertStep(step, error: error, of: id, owner: owner, attempt: attempt, now: now, db: db)
        }
    }

    /// Stores `step` (its error as stored JSON) as a checkpoint of task `id`,
    /// fenced: only while `owner` runs `attempt` of it. Returns whether it did.
    static func insertStep(
        _ step: StoredStep, error: String?, of id: TaskID, owner: String, attempt: Int, now: Int64, db: Database
    ) throws -> Bool {
        try db.execute(
            sql: """
                INSERT INTO durable_task_steps (task_id, position, name, occurrence, kind, status, result, error, attempt,
                                        created_at, started_at)
                SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
                WHERE EXISTS (SELECT 1 FROM durable_tasks WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running')
                """,
            arguments: [
                id.rawValue, step.position, step.name, step.occurrence, step.kind.rawValue, step.status.rawValue,
                step.result, error, attempt, now, step.startedAt, id.rawValue, owner, attempt,
            ])
        return db.changesCount > 0
    }
}
