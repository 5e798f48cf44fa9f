import DurableEngine
import PostgresNIO

// Concurrency keys: a new task with a key is admitted (claimable) while its key
// has room; the others wait until a task of the key finishes. Every admission
// of a key happens under a transaction-level advisory lock on the key, so
// transactions that count and admit take turns. Keys are locked, counted and
// admitted many per statement: a batch may name a thousand of them.
extension PostgresTransitions {
    /// The first of the two numbers of a concurrency key's advisory lock
    /// ("dk" for Durable key); the second is the key's hash.
    private static let keyLockClass: Int32 = 0x646B

    /// Locks `keys` (in one order, so that two transactions never wait for each
    /// other; those locked before stay locked), then counts the admitted,
    /// unfinished tasks of those not counted yet — in a statement of its own,
    /// whose snapshot sees what the lock waited for.
    mutating func lockKeys(_ keys: some Sequence<String>, counting: Bool = true) async throws {
        let keys = Set(keys)
        let new = keys.subtracting(lockedKeys).sorted()
        if !new.isEmpty {
            var lock = PostgresStatement()
            let locking = try lock.bind(array: new)
            lock.append(
                """
                SELECT pg_advisory_xact_lock(\(Self.keyLockClass)::integer, hashtext(k.key))
                FROM (SELECT unnest(\(locking)::text[]) AS key ORDER BY 1) AS k
                """)
            try await connection.run(lock.query)
            lockedKeys.formUnion(new)
        }
        let uncounted = keys.filter { admittedByKey[$0] == nil }.sorted()
        guard counting, !uncounted.isEmpty else { return }
        var count = PostgresStatement()
        let counting = try count.bind(array: uncounted)
        count.append(
            """
            SELECT k.key, (SELECT count(*) FROM tasks
                           WHERE concurrency_key = k.key AND NOT key_waiting AND status IN ('pending', 'running'))
            FROM unnest(\(counting)::text[]) AS k(key)
            """)
        for row in try await connection.rows(count.query) {
            let (key, admitted) = try row.decode((String, Int64).self)
            admittedByKey[key] = Int(admitted)
        }
    }

    /// Whether a new task may be claimed at once: it has no concurrency key, or
    /// its key has room (then it counts as admitted from now on). Its key must
    /// be locked (``lockKeys(_:)``).
    mutating func admits(_ task: NewTask) async throws -> Bool {
        guard let key = task.concurrencyKey else { return true }
        if admittedByKey[key] == nil { try await lockKeys(CollectionOfOne(key)) }
        let admitted = admittedByKey[key] ?? 0
        guard admitted < task.concurrencyLimit ?? 1 else { return false }
        admittedByKey[key] = admitted + 1
        return true
    }

    /// Admits the tasks of `keys` that wait, in claim order, as far as each key
    /// has room under the limit of the first of them: the keys locked, then one
    /// statement. Returns how many.
    @discardableResult
    mutating func admitWaitingTasks(of keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        try await lockKeys(keys, counting: false)
        var statement = PostgresStatement()
        let list = try statement.bind(array: keys.sorted())
        statement.append(
            """
            WITH room AS MATERIALIZED (
                SELECT l.key,
                       (SELECT concurrency_limit FROM tasks
                        WHERE concurrency_key = l.key AND key_waiting AND status IN ('pending', 'running')
                        ORDER BY priority DESC, run_at, id LIMIT 1)
                       - (SELECT count(*) FROM tasks
                          WHERE concurrency_key = l.key AND NOT key_waiting AND status IN ('pending', 'running'))
                       AS room
                FROM unnest(\(list)::text[]) AS l(key)
            )
            UPDATE tasks SET key_waiting = FALSE WHERE id IN (
                SELECT w.id FROM room AS r, LATERAL (
                    SELECT id FROM tasks
                    WHERE concurrency_key = r.key AND key_waiting AND status IN ('pending', 'running')
                    ORDER BY priority DESC, run_at, id LIMIT greatest(coalesce(r.room, 0), 0)
                ) AS w)
            RETURNING id
            """)
        let admitted = try await connection.rows(statement.query).count
        for key in keys { admittedByKey[key] = nil }
        effects.createdTasks += admitted
        return admitted
    }
}
