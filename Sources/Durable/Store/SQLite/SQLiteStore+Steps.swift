import GRDB

// Checkpoints inside tasks.
extension SQLiteStore {
    func steps(of id: TaskID) async throws -> [StoredStep] {
        try await read("read the steps of task \(id)") { db in
            try Row.fetchAll(
                db,
                sql: "SELECT position, name, kind, status, result, error FROM task_steps WHERE task_id = ? ORDER BY position",
                arguments: [id.rawValue]
            ).map { row in
                StoredStep(
                    position: row[0] as Int, name: row[1] as String,
                    kind: StoredStep.Kind(rawValue: row[2] as String) ?? .step,
                    status: TaskStatus(rawValue: row[3] as String) ?? .failed, result: row[4] as String?,
                    error: StoredJSON.decodeError(row[5] as String?))
            }
        }
    }

    func recordStep(_ step: StoredStep, of id: TaskID, owner: String, attempt: Int, now: Int64) async throws -> Bool {
        let error = try step.error.map(StoredJSON.encode)
        return try await write("store step \(step.name) of task \(id)") { db in
            try db.execute(
                sql: """
                    INSERT INTO task_steps (task_id, position, name, kind, status, result, error, attempt, created_at)
                    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?
                    WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running')
                    """,
                arguments: [
                    id.rawValue, step.position, step.name, step.kind.rawValue, step.status.rawValue, step.result, error,
                    attempt, now, id.rawValue, owner, attempt,
                ])
            return db.changesCount > 0
        }
    }
}
