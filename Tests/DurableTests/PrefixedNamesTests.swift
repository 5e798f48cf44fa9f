import DurableTestKit
import Durable
@testable import DurableSQLite
import Foundation
import GRDB
import Testing

/// Durable's tables, views and indexes are named `durable_*` since schema version
/// 12; a file written before it is renamed the first time a newer Durable opens it.
@Suite("Files of versions before the durable_ prefix", .enabled(if: TestStore.isSQLite, "SQLite only: object names"))
struct PrefixedNamesTests {
    @Test("a file of an older version, whichever, gets exactly the schema of a new file", arguments: [1, 3, 8, 10, 11])
    func olderSchemaIsRenamed(version: Int) async throws {
        let directory = TemporaryDirectory()
        let older = directory.file("older.sqlite")
        let queue = try DatabaseQueue(path: older)
        try await queue.write { db in
            try db.execute(
                sql: "CREATE TABLE durable_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT")
            for migration in SchemaMigrator.migrations where migration.version <= version {
                try db.execute(sql: try Self.unprefixed(migration.sql))
                try db.execute(
                    sql: "INSERT INTO durable_migrations VALUES (?, ?, 0)", arguments: [migration.version, migration.name])
            }
        }
        try queue.close()
        #expect(try Self.names(older).contains("tasks"))
        try TaskEngine(path: older).close()
        let new = directory.file("new.sqlite")
        try TaskEngine(path: new).close()
        #expect(try Self.schema(older) == Self.schema(new))
    }

    @Test("a version-11 file keeps its tasks, their results and keys, and the application's tables and views")
    func rowsSurviveTheRename() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("shared.sqlite")
        var shared = SQLiteConfiguration()
        shared.sharesFileWithApplication = true
        let pool = try DatabasePool(path: path)
        try await pool.write { db in try db.execute(sql: "CREATE TABLE orders (id INTEGER PRIMARY KEY, task INTEGER)") }
        let engine = try TaskEngine(path: path, sqlite: shared, logger: testLogger)
        registerTestJobs(on: engine, gates: Gates())
        let done = try await engine.createTask(Doubler.self, 4, name: "done", key: "k:done")
        let pending = try await engine.createTask(
            Doubler.self, 5, name: "pending", key: "k:pending", options: TaskOptions(delay: .seconds(3600)))
        #expect(try await engine.run { _ in try await done.value } == 8)
        try engine.close()
        // What Durable before version 12 left: unprefixed names, and an application
        // view of them.
        try await pool.write { db in
            try Self.renameToUnprefixed(db)
            try db.execute(sql: "DELETE FROM durable_migrations WHERE version >= 12")
            try db.execute(sql: "INSERT INTO orders VALUES (1, \(done.id.rawValue))")
            try db.execute(
                sql: "CREATE VIEW order_status AS SELECT o.id, t.status FROM orders AS o JOIN tasks AS t ON t.id = o.task")
        }
        #expect(try Self.names(path).contains("task_history"))

        let reopened = try TaskEngine(path: path, sqlite: shared, logger: testLogger)
        registerTestJobs(on: reopened, gates: Gates())
        #expect(try await reopened.record(of: done.id).status == .succeeded)
        #expect(try await reopened.record(of: pending.id).status == .pending)
        #expect(try await reopened.record(of: pending.id).name == "pending")
        // The key is still taken: the same task comes back.
        #expect(try await reopened.createTask(Doubler.self, 5, key: "k:pending").id == pending.id)
        try reopened.close()
        let rows = try await pool.read { db in
            (
                try Int.fetchOne(db, sql: "SELECT count(*) FROM durable_task_history"),
                try Int.fetchOne(db, sql: "SELECT count(*) FROM orders"),
                try String.fetchOne(db, sql: "SELECT sql FROM sqlite_master WHERE name = 'order_status'")
            )
        }
        #expect(rows.0 == 2)
        #expect(rows.1 == 1)
        // The application's view is the application's: left as it was written.
        #expect(rows.2?.contains("JOIN tasks AS t") == true)
        try pool.close()
        #expect(try Self.names(path).filter { !$0.hasPrefix("durable_") }.sorted() == ["order_status", "orders"])
    }

    /// `sql` with Durable's names as they were before version 12.
    private static func unprefixed(_ sql: String) throws -> String {
        try SchemaNames.unprefixed.reduce(sql) { sql, name in
            sql.replacing(try Regex("\\b\(SchemaNames.prefix)\(name)\\b").wordBoundaryKind(.simple), with: name)
        }
    }

    /// Gives Durable's objects their names of before version 12, as
    /// ``SchemaNames/renameUnprefixed(_:)`` does the other way.
    private static func renameToUnprefixed(_ db: Database) throws {
        try SchemaNames.rename(
            db, objects: SchemaNames.unprefixed.map { SchemaNames.prefix + $0 },
            to: { String($0.dropFirst(SchemaNames.prefix.count)) }, rewriting: unprefixed)
    }

    /// Every object of the file but the ledger, quotes left out (a renamed table's
    /// statement quotes its new name).
    private static func schema(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try String.fetchAll(
                db,
                sql: """
                    SELECT type || ' ' || name || ' ' || tbl_name || ' ' || coalesce(replace(sql, '"', ''), '')
                    FROM sqlite_master WHERE name <> 'durable_migrations' ORDER BY name
                    """)
        }
    }

    private static func names(_ path: String) throws -> [String] {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        }
    }
}
