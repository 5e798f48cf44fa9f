import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// An application's orders and their tasks in one file, written by processes
/// of the application (`DurableTestWorker app-write`) in their own
/// transactions, beside a worker process and the `durable` tool (issue 17).
@Suite("One file for the application's data and its tasks, across processes", .serialized)
struct SharedFileProcessTests {
    /// A file with the application's table `orders` (its own GRDB migration)
    /// and Durable's schema beside it.
    private func prepareApplicationFile(_ path: String) throws {
        let pool = try DatabasePool(path: path)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("orders") { db in
            try db.execute(sql: "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL, confirmation INTEGER)")
        }
        try migrator.migrate(pool)
        try TaskEngine(sharing: pool, logger: testLogger).close()
        try pool.close()
    }

    @Test("a SIGKILL between the application's writes and its commit leaves neither the order nor its task")
    func killBeforeCommit() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("app.sqlite")
        try prepareApplicationFile(path)
        let holding = directory.file("holding")
        let writer = try ChildProcess(
            "app-write-held", arguments: ["app-write", path, "--count", "1", "--hold", holding], in: directory)
        try await poll("the order and its task are written, not committed", child: writer) {
            ((try? String(contentsOfFile: holding, encoding: .utf8)) ?? "").contains("holding")
        }
        try await writer.sigkill()
        do {
            let probe = try DatabaseProbe(path: path, readonly: true)
            defer { try? probe.close() }
            #expect(try probe.int("SELECT count(*) FROM orders") == 0)
            #expect(try probe.int("SELECT count(*) FROM tasks") == 0)
        }
        // The same order again: its key is free, and it commits with its task.
        let again = try ChildProcess("app-write-again", arguments: ["app-write", path, "--count", "1"], in: directory)
        try await again.expectCleanExit()
        let probe = try DatabaseProbe(path: path, readonly: true)
        defer { try? probe.close() }
        #expect(
            try probe.int(
                "SELECT count(*) FROM orders AS o JOIN tasks AS t ON t.id = o.confirmation WHERE t.key = 'order:1'") == 1)
        #expect(try probe.integrityCheck() == ["ok"])
    }

    @Test("four application processes and a worker process on one file: every order's task runs once, nobody sees a lock error; the CLI lists them")
    func writersAndWorker() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("app.sqlite")
        try prepareApplicationFile(path)
        let (writers, perWriter) = (4, 100)
        let total = writers * perWriter
        let worker = try ChildProcess(
            "worker", arguments: ["run", path, "--wait-ids", "1-\(total)", "--delay-ms", "0"], in: directory)
        let children = try (0..<writers).map { index in
            try ChildProcess(
                "app-write-\(index)",
                arguments: ["app-write", path, "--first", "\(1 + index * 1000)", "--count", "\(perWriter)"],
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
        let probe = try DatabaseProbe(path: path, readonly: true)
        defer { try? probe.close() }
        #expect(try probe.int("SELECT count(*) FROM orders") == total)
        #expect(
            try probe.int(
                """
                SELECT count(*) FROM orders AS o JOIN tasks AS t ON t.id = o.confirmation
                WHERE t.status = 'succeeded' AND t.result = o.id AND t.attempt = 1
                """) == total)
        #expect(try probe.int("SELECT count(*) FROM task_attempts") == total)
        let listed = try await runDurableTool(["ls", "--db", path, "--json", "--limit", "1000"])
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
        #expect(try probe.int("SELECT count(*) FROM sqlite_master WHERE name IN ('orders', 'tasks', 'durable_migrations')") == 3)
    }
}
