import GRDB

// Checkpoints inside tasks.
extension SQLiteStore {
    func steps(of id: TaskID) async throws -> [StoredStep] {
        try await read("read the steps of task \(id)") { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT position, name, occurrence, kind, status, result, error, attempt
                    FROM task_steps WHERE task_id = ? ORDER BY position
                    """,
                arguments: [id.rawValue]
            ).map { row in
                StoredStep(
                    position: row[0] as Int, name: row[1] as String, occurrence: row[2] as Int,
                    kind: StoredStep.Kind(rawValue: row[3] as String) ?? .step,
                    status: TaskStatus(rawValue: row[4] as String) ?? .failed, result: row[5] as String?,
                    error: StoredJSON.decodeError(row[6] as String?), attempt: row[7] as Int)
            }
        }
    }

    func recordStep(_ step: StoredStep, of id: TaskID, owner: String, attempt: Int, now: Int64) async throws -> Bool {
        let error = try step.error.map(StoredJSON.encode)
        return try await write("store step \(step.name) of task \(id)") { db in
            try db.execute(
                sql: """
                    INSERT INTO task_steps (task_id, position, name, occurrence, kind, status, result, error, attempt,
                                            created_at)
                    SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?
                    WHERE EXISTS (SELECT 1 FROM tasks WHERE id = ? AND owner = ? AND attempt = ? AND status = 'running')
                    """,
                arguments: [
                    id.rawValue, step.position, step.name, step.occurrence, step.kind.rawValue, step.status.rawValue,
                    step.result, error, attempt, now, id.rawValue, owner, attempt,
                ])
            return db.changesCount > 0
        }
    }
}
