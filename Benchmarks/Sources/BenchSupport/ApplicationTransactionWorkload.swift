import Durable
import Foundation
import GRDB

/// An application that writes an order and creates its task, `n` times, on
/// its own GRDB pool shared with the engine (SQLite, FULL or NORMAL sync), in
/// two ways measured in turn on fresh files (twice each, alternated; the
/// better run of each is reported): `separate` — the order in one
/// transaction, then `createTask` (two commits) — and `together` — both in the
/// application's transaction with `createTask(…, in: db)` (one commit). No
/// worker runs: this is the cost of creating, which issue 17 asks to be no more
/// inside the application's transaction than beside it.
public func applicationTransaction(database: BenchDatabase, n: Int, durability: Durability) async throws
    -> [String: Any]
{
    guard case .sqlite(let path) = database else {
        throw BenchError("app-transaction is SQLite's: tasks in a GRDB transaction")
    }
    var rates: [String: Double] = [:]
    for mode in ["separate", "together", "separate", "together"] {
        removeDatabase(at: path)
        let pool = try DatabasePool(path: path)
        try await pool.write { db in
            try db.execute(sql: "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL)")
        }
        var sqlite = SQLiteConfiguration()
        sqlite.durability = durability
        let engine = try TaskEngine(sharing: pool, sqlite: sqlite)
        let start = monotonicNanos()
        for order in 0..<n {
            if mode == "separate" {
                try await pool.write { db in
                    try db.execute(sql: "INSERT INTO orders (id, total) VALUES (?, ?)", arguments: [order, order])
                }
                try await engine.createTask(Noop.self, order)
            } else {
                try await pool.write { db in
                    try db.execute(sql: "INSERT INTO orders (id, total) VALUES (?, ?)", arguments: [order, order])
                    try engine.createTask(Noop.self, order, in: db)
                }
            }
        }
        let seconds = seconds(from: start, to: monotonicNanos())
        let stored = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM tasks") ?? 0 }
        guard stored == n else { throw BenchError("\(stored) tasks stored for \(n) orders (\(mode))") }
        rates[mode] = max(rates[mode] ?? 0, Double(n) / seconds)
        try engine.close()
        try pool.close()
    }
    let separate = rates["separate"] ?? 0
    let together = rates["together"] ?? 0
    return [
        "workload": "app-transaction", "n": n, "sync": durability.syncName,
        "separate_orders_per_s": rounded(separate, 1), "together_orders_per_s": rounded(together, 1),
        "together_vs_separate": rounded(separate > 0 ? together / separate : 0, 2),
    ]
}
