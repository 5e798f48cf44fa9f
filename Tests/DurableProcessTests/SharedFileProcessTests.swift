import DurableTestKit
import Durable
import DurablePostgres
import Foundation
import GRDB
import Testing

/// An application's orders and their tasks in one database, written by
/// processes of the application (`DurableTestWorker app-write`) in their own
/// transactions, beside a worker process and the `durable` tool (issue 17): on
/// SQLite in one file, on PostgreSQL in the application's schema beside Durable's.
@Suite("One database for the application's data and its tasks, across processes", .serialized)
struct SharedFileProcessTests {
    /// The database of one test with the application's table `orders` and
    /// Durable's schema beside it; returns the database and the name to read
    /// the orders by (on PostgreSQL qualified by the application's schema).
    private func prepareApplicationDatabase(_ store: ProcessStore, in directory: TemporaryDirectory) async throws
        -> (database: String, orders: String)
    {
        let database = try store.database(in: directory, file: "app.sqlite")
        switch store {
        case .sqlite:
            let pool = try DatabasePool(path: database)
            var migrator = DatabaseMigrator()
            migrator.registerMigration("orders") { db in
                try db.execute(sql: "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL, confirmation INTEGER)")
            }
            try migrator.migrate(pool)
            try TaskEngine(sharing: pool, logger: testLogger).close()
            try pool.close()
            return (database, "orders")
        case .postgres:
            try await openEngine(database).close()
            let schema = try PostgresConfiguration(url: database).schema + "_app"
            let probe = try await SQLProbe.open(database)
            do {
                try await probe.execute("CREATE SCHEMA \(schema)")
                try await probe.execute(
                    "CREATE TABLE \(schema).orders (id bigint PRIMARY KEY, total bigint NOT NULL, confirmation bigint)")
            } catch {
                await probe.close()
                throw error
            }
            await probe.close()
            return (database, "\(schema).orders")
        }
    }

    @Test(
        "a SIGKILL between the application's writes and its commit leaves neither the order nor its task",
        arguments: ProcessStore.all)
    func killBeforeCommit(store: ProcessStore) async throws {
        let directory = TemporaryDirectory()
        let (database, orders) = try await prepareApplicationDatabase(store, in: directory)
        let holding = directory.file("holding")
        let writer = try ChildProcess(
            "app-write-held", arguments: ["app-write", database, "--count", "1", "--hold", holding], in: directory)
        try await poll("the order and its task are written, not committed", child: writer) {
            ((try? String(contentsOfFile: holding, encoding: .utf8)) ?? "").contains("holding")
        }
        try await writer.sigkill()
        do {
            let probe = try await SQLProbe.open(database)
            let counts = (try await probe.int("SELECT count(*) FROM \(orders)"), try await probe.int("SELECT count(*) FROM tasks"))
            await probe.close()
            #expect(counts == (0, 0))
        }
        // The same order again: its key is free, and it commits with its task.
        let again = try ChildProcess("app-write-again", arguments: ["app-write", database, "--count", "1"], in: directory)
        try await again.expectCleanExit()
        let probe = try await SQLProbe.open(database)
        let joined = try await probe.int(
            "SELECT count(*) FROM \(orders) AS o JOIN tasks AS t ON t.id = o.confirmation WHERE t.key = 'order:1'")
        await probe.close()
        #expect(joined == 1)
    }

    @Test(
        "four application processes and a worker process on one database: every order's task runs once, nobody sees a lock error; the CLI lists them",
        arguments: ProcessStore.all)
    func writersAndWorker(store: ProcessStore) async throws {
        let directory = TemporaryDirectory()
        let (database, orders) = try await prepareApplicationDatabase(store, in: directory)
        let (writers, perWriter) = (4, 100)
        let total = writers * perWriter
        let worker = try ChildProcess(
            "worker", arguments: ["run", database, "--wait-ids", "1-\(total)", "--delay-ms", "0"], in: directory)
        let children = try (0..<writers).map { index in
            try ChildProcess(
                "app-write-\(index)",
                arguments: ["app-write", database, "--first", "\(1 + index * 1000)", "--count", "\(perWriter)"],
                in: directory)
        }
        for child in children {
            try await child.expectCleanExit()
            #expect(child.fullOutput.contains("WROTE \(perWriter)"), "\(child.output)")
        }
        try await worker.expectCleanExit()
        for child in children + [worker] {
            #expect(!child.fullOutput.lowercased().contains("locked"), "\(child.label): \(child.output)")
        }
        let probe = try await SQLProbe.open(database)
        let counts = (
            try await probe.int("SELECT count(*) FROM \(orders)"),
            try await probe.int(
                """
                SELECT count(*) FROM \(orders) AS o JOIN tasks AS t ON t.id = o.confirmation
                WHERE t.status = 'succeeded' AND CAST(t.result AS BIGINT) = o.id AND t.attempt = 1
                """),
            try await probe.int("SELECT count(*) FROM task_attempts")
        )
        await probe.close()
        #expect(counts == (total, total, total))
        let listed = try await runDurableTool(["ls", "--db", database, "--json", "--limit", "1000"])
        #expect(listed.status == 0, "\(listed.standardError)")
        #expect(listed.lines.count == total, "\(listed.standardOutput.prefix(500))")
    }

    @Test("durable migrate adds Durable's tables to an application's file only with --shared; the CLI then works on it")
    func migrateShared() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("app.sqlite")
        try await DatabaseQueue(path: path).write { db in
            try db.execute(sql: "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL)")
        }
        let refused = try await runDurableTool(["migrate", "--db", path])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("durable migrate --shared"), "\(refused.standardError)")
        let migrated = try await runDurableTool(["migrate", "--db", path, "--shared"])
        #expect(migrated.status == 0, "\(migrated.standardError)")
        let listed = try await runDurableTool(["ls", "--db", path])
        #expect(listed.status == 0, "\(listed.standardError)")
        let probe = try DatabaseProbe(path: path, readonly: true)
        defer { try? probe.close() }
        #expect(try probe.int("SELECT count(*) FROM sqlite_master WHERE name IN ('orders', 'durable_tasks', 'durable_migrations')") == 3)
    }
}
