import Durable
import DurablePostgres
import Foundation
import GRDB
import Logging
import PostgresNIO

/// An application that writes an order and creates its task, `n` times, in
/// two ways measured in turn (twice each, alternated, on fresh databases; the
/// better run of each is reported): `separate` — the order in one transaction,
/// then `createTask` (two commits) — and `together` — both in the application's
/// transaction with `createTask(…, in:)` (one commit). On SQLite the
/// application's GRDB pool is shared with the engine; on PostgreSQL the
/// application has a connection of its own, its table in a schema of its own.
/// No worker runs: this is the cost of creating, which issue 17 asks to be no
/// more inside the application's transaction than beside it. Besides orders
/// per second it reports the mean time spent in the `createTask` call itself
/// (in the transaction, or separate with its own commit).
public func applicationTransaction(database: BenchDatabase, n: Int, durability: Durability) async throws
    -> [String: Any]
{
    var rates: [String: Double] = [:]
    var createMilliseconds: [String: Double] = [:]
    for mode in ["separate", "together", "separate", "together"] {
        try await database.remove()
        let together = mode == "together"
        let (seconds, creating) =
            switch database {
            case .sqlite(let path): try await ordersOnSQLite(path: path, n: n, durability: durability, together: together)
            case .postgres(let url, _): try await ordersOnPostgres(url: url, n: n, together: together)
            }
        rates[mode] = max(rates[mode] ?? 0, Double(n) / seconds)
        createMilliseconds[mode] = min(createMilliseconds[mode] ?? .infinity, creating * 1000 / Double(n))
    }
    let separate = rates["separate"] ?? 0
    let together = rates["together"] ?? 0
    return [
        "workload": "app-transaction", "n": n, "sync": durability.syncName,
        "separate_orders_per_s": rounded(separate, 1), "together_orders_per_s": rounded(together, 1),
        "together_vs_separate": rounded(separate > 0 ? together / separate : 0, 2),
        "separate_create_ms": rounded(createMilliseconds["separate"] ?? 0, 3),
        "together_create_ms": rounded(createMilliseconds["together"] ?? 0, 3),
    ]
}

/// `n` orders and their tasks on SQLite; returns the seconds they took, and
/// those spent in `createTask`.
private func ordersOnSQLite(path: String, n: Int, durability: Durability, together: Bool) async throws
    -> (Double, Double)
{
    let pool = try DatabasePool(path: path)
    try await pool.write { db in
        try db.execute(sql: "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL)")
    }
    var sqlite = SQLiteConfiguration()
    sqlite.durability = durability
    let engine = try TaskEngine(sharing: pool, sqlite: sqlite)
    let start = monotonicNanos()
    var creating: UInt64 = 0
    for order in 0..<n {
        if together {
            creating += try await pool.write { db in
                try db.execute(sql: "INSERT INTO orders (id, total) VALUES (?, ?)", arguments: [order, order])
                let before = monotonicNanos()
                try engine.createTask(Noop.self, order, in: db)
                return monotonicNanos() - before
            }
        } else {
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO orders (id, total) VALUES (?, ?)", arguments: [order, order])
            }
            let before = monotonicNanos()
            try await engine.createTask(Noop.self, order)
            creating += monotonicNanos() - before
        }
    }
    let seconds = seconds(from: start, to: monotonicNanos())
    let stored = try await pool.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM durable_tasks") ?? 0 }
    try engine.close()
    try pool.close()
    guard stored == n else { throw BenchError("\(stored) tasks stored for \(n) orders") }
    return (seconds, Double(creating) / 1e9)
}

/// `n` orders and their tasks on PostgreSQL; returns the seconds they took, and
/// those spent in `createTask`.
private func ordersOnPostgres(url: String, n: Int, together: Bool) async throws -> (Double, Double) {
    let postgres = try PostgresConfiguration(url: url)
    let engine = try await TaskEngine(postgres: postgres)
    let logger = Logger(label: "app-transaction", factory: { _ in SwiftLogNoOpLogHandler() })
    let schema = postgres.schema + "_app"
    var session = PostgresConnection.Configuration(
        host: postgres.host, port: postgres.port, username: postgres.username, password: postgres.password,
        database: postgres.database, tls: .disable)
    session.options.additionalStartupParameters = [("search_path", schema)]
    let connection = try await PostgresConnection.connect(configuration: session, id: 1, logger: logger)
    do {
        for sql in [
            "DROP SCHEMA IF EXISTS \(schema) CASCADE", "CREATE SCHEMA \(schema)",
            "CREATE TABLE orders (id bigint PRIMARY KEY, total bigint NOT NULL)",
        ] {
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: logger)
        }
        let start = monotonicNanos()
        var creating: UInt64 = 0
        for order in 0..<n {
            if together {
                creating += try await connection.withTransaction(logger: logger) { connection in
                    try await connection.query("INSERT INTO orders (id, total) VALUES (\(order), \(order))", logger: logger)
                    let before = monotonicNanos()
                    try await engine.createTask(Noop.self, order, in: connection)
                    return monotonicNanos() - before
                }
            } else {
                try await connection.query("INSERT INTO orders (id, total) VALUES (\(order), \(order))", logger: logger)
                let before = monotonicNanos()
                try await engine.createTask(Noop.self, order)
                creating += monotonicNanos() - before
            }
        }
        let seconds = seconds(from: start, to: monotonicNanos())
        let stored = try await connection.query("SELECT count(*)::bigint FROM \(unescaped: postgres.schema).tasks", logger: logger)
            .collect().first?.decode(Int64.self) ?? 0
        try await connection.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(schema) CASCADE"), logger: logger)
        try await connection.close()
        try engine.close()
        guard stored == n else { throw BenchError("\(stored) tasks stored for \(n) orders") }
        return (seconds, Double(creating) / 1e9)
    } catch {
        try? await connection.close()
        try? engine.close()
        throw error
    }
}
