import DurableEngine
import PostgresNIO

// Concurrency keys: a new task with a key is admitted (claimable) while its key
// has room; the others wait until a task of the key finishes. Every admission
// of a key happens under a transaction-level advisory lock on the key, so
// transactions that count and admit take turns.
extension PostgresTransitions {
    /// Locks `keys` (in one order, so that two transactions never wait for each other).
    mutating func lockKeys(_ keys: some Sequence<String>) async throws {
        for key in Set(keys).subtracting(lockedKeys).sorted() {
            try await connection.run(
                "SELECT pg_advisory_xact_lock(\(Self.keyLockClass)::integer, hashtext(\(key)))")
            lockedKeys.insert(key)
        }
    }

    /// The first of the two numbers of a concurrency key's advisory lock
    /// ("dk" for Durable key); the second is the key's hash.
    private static let keyLockClass: Int32 = 0x646B

    /// Whether a new task may be claimed at once: it has no concurrency key, or
    /// its key has room (then it counts as admitted from now on).
    mutating func admits(_ task: NewTask) async throws -> Bool {
        guard let key = task.concurrencyKey else { return true }
        let admitted = try await admittedCount(of: key)
        guard admitted < task.concurrencyLimit ?? 1 else { return false }
        admittedByKey[key] = admitted + 1
        return true
    }

    /// The admitted, unfinished tasks of `key`, counted once per transaction.
    private mutating func admittedCount(of key: String) async throws -> Int {
        if let known = admittedByKey[key] { return known }
        let count = try await connection.value(
            """
            SELECT count(*) FROM tasks
            WHERE concurrency_key = \(key) AND NOT key_waiting AND status IN ('pending', 'running')
            """, as: Int64.self) ?? 0
        admittedByKey[key] = Int(count)
        return Int(count)
    }

    /// Admits the tasks of `key` that wait, in claim order, as far as the key
    /// has room under the limit of the first of them. Returns how many.
    @discardableResult
    mutating func admitWaitingTasks(of key: String) async throws -> Int {
        try await lockKeys(CollectionOfOne(key))
        guard
            let limit = try await connection.value(
                """
                SELECT concurrency_limit FROM tasks
                WHERE concurrency_key = \(key) AND key_waiting AND status IN ('pending', 'running')
                ORDER BY priority DESC, run_at, id LIMIT 1
                """, as: Int64.self)
        else { return 0 }
        admittedByKey[key] = nil
        let room = Int(limit) - (try await admittedCount(of: key))
        guard room > 0 else { return 0 }
        let admitted = try await connection.rows(
            """
            UPDATE tasks SET key_waiting = FALSE WHERE id IN (
                SELECT id FROM tasks WHERE concurrency_key = \(key) AND key_waiting AND status IN ('pending', 'running')
                ORDER BY priority DESC, run_at, id LIMIT \(Int64(room)))
            RETURNING id
            """
        ).count
        admittedByKey[key] = nil
        effects.createdTasks += admitted
        return admitted
    }
}
