import DurableTestKit
import Durable
@testable import DurableSQLite
import Foundation
import GRDB
import Synchronization
import Testing

/// An application's tables and Durable's in one SQLite file, and tasks created
/// in the application's own transactions (issue 17).
@Suite("Tasks in the application's transaction (SQLite)", .enabled(if: TestStore.isSQLite, "SQLite only: GRDB transactions"))
struct ApplicationTransactionTests {
    /// The application's pool on `file`, with its own tables `orders`, and `tasks`
    /// and `queues` (a to-do list's, unrelated to Durable's `durable_tasks`).
    private func applicationPool(_ file: String) throws -> DatabasePool {
        var configuration = Configuration()
        configuration.busyMode = .timeout(30)
        let pool = try DatabasePool(path: file, configuration: configuration)
        var migrator = DatabaseMigrator()
        migrator.registerMigration("orders") { db in
            try db.execute(sql: "CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL, confirmation INTEGER)")
            try db.execute(sql: "CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT NOT NULL, queue TEXT)")
            try db.execute(sql: "CREATE TABLE queues (name TEXT PRIMARY KEY)")
        }
        try migrator.migrate(pool)
        return pool
    }

    private func sharingEngine(_ pool: DatabasePool) throws -> TaskEngine {
        var configuration = EngineConfiguration()
        configuration.gracefulShutdownTimeout = .zero
        let engine = try TaskEngine(sharing: pool, configuration: configuration, logger: testLogger)
        registerTestJobs(on: engine, gates: Gates())
        return engine
    }

    private func count(_ sql: String, in pool: DatabasePool) async throws -> Int {
        try await pool.read { db in try Int.fetchOne(db, sql: sql) ?? -1 }
    }

    @Test("an order and its task commit together; the task runs once; orders join the task views")
    func commitsTogether() async throws {
        let directory = TemporaryDirectory()
        let pool = try applicationPool(directory.file("app.sqlite"))
        let engine = try sharingEngine(pool)
        let task = try await pool.write { db in
            try db.execute(sql: "INSERT INTO orders (id, total) VALUES (7, 21)")
            let task = try engine.createTask(Doubler.self, 21, name: "confirm 7", key: "confirm:7", in: db)
            try db.execute(sql: "UPDATE orders SET confirmation = ? WHERE id = 7", arguments: [task.id.rawValue])
            // The application's own `tasks` table is not Durable's `durable_tasks`.
            try db.execute(sql: "INSERT INTO tasks (title) VALUES ('call the customer of order 7')")
            return task
        }
        #expect(try await engine.run { _ in try await task.value } == 42)
        #expect(try await count("SELECT count(*) FROM tasks", in: pool) == 1)
        #expect(try await count("SELECT count(*) FROM durable_tasks", in: pool) == 1)
        let joined = try await pool.read { db in
            try Row.fetchAll(
                db,
                sql: """
                    SELECT o.id, h.name, h.status FROM orders AS o
                    JOIN durable_task_history AS h ON h.id = o.confirmation
                    """
            ).map { "\($0["id"] as Int64) \($0["name"] as String) \($0["status"] as String)" }
        }
        #expect(joined == ["7 confirm 7 succeeded"])
        #expect(try await count("SELECT count(*) FROM durable_task_attempts", in: pool) == 1)
        try engine.close()
        // The pool stays the application's.
        #expect(try await count("SELECT count(*) FROM orders", in: pool) == 1)
    }

    @Test("an application on a DatabaseQueue: the engine opens the file by path, tasks are created in the queue's transactions")
    func applicationOnDatabaseQueue() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("queue-app.sqlite")
        var queueConfiguration = Configuration()
        queueConfiguration.busyMode = .timeout(30)
        let queue = try DatabaseQueue(path: path, configuration: queueConfiguration)
        try await queue.write { db in try db.execute(sql: "CREATE TABLE orders (id INTEGER PRIMARY KEY, confirmation INTEGER)") }
        var shared = SQLiteConfiguration()
        shared.sharesFileWithApplication = true
        var configuration = EngineConfiguration()
        configuration.gracefulShutdownTimeout = .zero
        let engine = try TaskEngine(path: path, configuration: configuration, sqlite: shared, logger: testLogger)
        registerTestJobs(on: engine, gates: Gates())
        let task = try await queue.write { db in
            try db.execute(sql: "INSERT INTO orders (id) VALUES (1)")
            let task = try engine.createTask(Doubler.self, 8, key: "order:1", in: db)
            try db.execute(sql: "UPDATE orders SET confirmation = ? WHERE id = 1", arguments: [task.id.rawValue])
            return task
        }
        struct RolledBack: Error {}
        await #expect(throws: RolledBack.self) {
            try await queue.write { db in
                try db.execute(sql: "INSERT INTO orders (id) VALUES (2)")
                try engine.createTask(Doubler.self, 9, key: "order:2", in: db)
                throw RolledBack()
            }
        }
        #expect(try await engine.run { _ in try await task.value } == 16)
        let joined = try await queue.read { db in
            try String.fetchAll(
                db, sql: "SELECT h.status FROM orders AS o JOIN durable_task_history AS h ON h.id = o.confirmation")
        }
        #expect(joined == ["succeeded"])
        #expect(try await queue.read { db in try Int.fetchOne(db, sql: "SELECT count(*) FROM durable_tasks") } == 1)
        try engine.close()
        try queue.close()
    }

    @Test("every option given in the application's transaction is stored as a separate createTask stores it")
    func everyOption() async throws {
        let directory = TemporaryDirectory()
        let pool = try applicationPool(directory.file("app.sqlite"))
        let engine = try sharingEngine(pool)
        let options = TaskOptions(
            priority: 3, delay: .seconds(600), timeout: .seconds(30), deadline: Date().addingTimeInterval(3600),
            retry: RetryPolicy(maxAttempts: 4, initialDelay: .seconds(2)), queue: "emails",
            concurrencyKey: ConcurrencyKey("customer:7", limit: 2))
        let inside = try await pool.write { db in
            try engine.createTask(Doubler.self, 7, name: "inside", context: ["order": "7"], key: "k:inside", options: options, in: db)
        }
        let beside = try await engine.createTask(
            Doubler.self, 7, name: "beside", context: ["order": "7"], key: "k:beside", options: options)
        let columns = """
            job, input, context, priority, deadline, timeout_ms, retry, queue_id, concurrency_key, concurrency_limit,
            key_waiting, status
            """
        let rows = try await pool.read { db in
            try [inside.id, beside.id].map { id in
                try Row.fetchOne(db, sql: "SELECT \(columns) FROM durable_tasks WHERE id = ?", arguments: [id.rawValue])
                    .map { Array($0.databaseValues) }
            }
        }
        #expect(rows[0] != nil)
        #expect(rows[0] == rows[1])
        // The delay counts from the call (the row's creation time is its store's, a moment later).
        let delays = try await pool.read { db in
            try Int64.fetchAll(
                db, sql: "SELECT run_at - created_at FROM durable_tasks WHERE id IN (?, ?)",
                arguments: [inside.id.rawValue, beside.id.rawValue])
        }
        #expect(delays.count == 2 && delays.allSatisfy { (590_000...600_000).contains($0) })
        let record = try await engine.record(of: inside.id)
        #expect(record.name == "inside")
        #expect(record.key == "k:inside")
        #expect(record.queue == "emails")
        #expect(record.concurrencyKey == ConcurrencyKey("customer:7", limit: 2))
        try engine.close()
    }

    @Test("a rolled-back transaction leaves no task and no key; the key can be used again")
    func rollbackLeavesNothing() async throws {
        let directory = TemporaryDirectory()
        let pool = try applicationPool(directory.file("app.sqlite"))
        let engine = try sharingEngine(pool)
        struct Refused: Error {}
        let rolledBack = Mutex<DurableTask<Int>?>(nil)
        await #expect(throws: Refused.self) {
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO orders (id, total) VALUES (1, 5)")
                let task = try engine.createTask(
                    Doubler.self, 5, key: "confirm:1", options: TaskOptions(delay: .seconds(60)), in: db)
                rolledBack.withLock { $0 = task }
                throw Refused()
            }
        }
        #expect(try await count("SELECT count(*) FROM orders", in: pool) == 0)
        #expect(try await count("SELECT count(*) FROM durable_tasks", in: pool) == 0)
        // Its handle names no task: awaiting it fails at once rather than waiting.
        let handle = try #require(rolledBack.withLock { $0 })
        await #expect {
            try await handle.value
        } throws: { error in
            (error as? DurableError)?.code == .unknownTask
        }
        // The same key with another input: free, as nothing of the first was kept.
        let task = try await pool.write { db in
            try db.execute(sql: "INSERT INTO orders (id, total) VALUES (1, 6)")
            return try engine.createTask(Doubler.self, 6, key: "confirm:1", in: db)
        }
        #expect(try await engine.run { _ in try await task.value } == 12)
        #expect(try await count("SELECT count(*) FROM durable_tasks", in: pool) == 1)
        try engine.close()
    }

    @Test("a failing call leaves the application's transaction as it was: the application decides")
    func failedCallKeepsTransaction() async throws {
        let directory = TemporaryDirectory()
        let pool = try applicationPool(directory.file("app.sqlite"))
        let engine = try sharingEngine(pool)
        try await pool.write { db in _ = try engine.createTask(Doubler.self, 1, key: "taken", in: db) }
        let caught = try await pool.write { db -> DurableError? in
            try db.execute(sql: "INSERT INTO orders (id, total) VALUES (2, 2)")
            // Three tasks, the last with a key taken by another input: none is kept.
            return Self.code {
                _ = try engine.createTasks(
                    Doubler.self, [TaskRequest(10), TaskRequest(11), TaskRequest(2, key: "taken")], in: db)
            }
        }
        #expect(caught?.code == .keyConflict)
        #expect(try await count("SELECT count(*) FROM orders", in: pool) == 1)
        #expect(try await count("SELECT count(*) FROM durable_tasks", in: pool) == 1)
        try engine.close()
    }

    @Test("a connection that is read-only, outside a transaction or to another file is refused, naming why")
    func refusesWrongConnections() async throws {
        let directory = TemporaryDirectory()
        let pool = try applicationPool(directory.file("app.sqlite"))
        let other = try applicationPool(directory.file("other.sqlite"))
        let engine = try sharingEngine(pool)
        let readOnly = try await pool.read { db in Self.code { try engine.createTask(Doubler.self, 1, in: db) } }
        #expect(readOnly?.code == .invalidArgument)
        let outside = try await pool.writeWithoutTransaction { db in Self.code { try engine.createTask(Doubler.self, 1, in: db) } }
        #expect(outside?.message.contains("not in a transaction") == true)
        let elsewhere = try await other.write { db in Self.code { try engine.createTask(Doubler.self, 1, in: db) } }
        #expect(elsewhere?.message.contains("other.sqlite") == true)
        // Read-only inside a write (query_only), also when nothing would be written.
        let queryOnly = try await pool.write { db in
            try db.readOnly { Self.code { try engine.createTasks(Doubler.self, inputs: [], in: db) } }
        }
        #expect(queryOnly?.code == .invalidArgument)
        let queue = try DatabaseQueue(path: directory.file("app.sqlite"))
        let queueRead = try await queue.read { db in Self.code { try engine.createTask(Doubler.self, 1, in: db) } }
        #expect(queueRead?.code == .invalidArgument)
        try queue.close()
        #expect(try await count("SELECT count(*) FROM durable_tasks", in: pool) == 0)
        try engine.close()
    }

    private static func code(_ body: () throws -> Void) -> DurableError? {
        do {
            try body()
            return nil
        } catch {
            return error as? DurableError
        }
    }

    @Test("a commit with new tasks raises the commit counter, so that other processes' feeds never take it for their own")
    func raisesCommitCounter() async throws {
        let directory = TemporaryDirectory()
        let pool = try applicationPool(directory.file("app.sqlite"))
        let engine = try sharingEngine(pool)
        let commits = "SELECT coalesce(max(value), 0) FROM durable_counters WHERE name = 'commits'"
        let before = try await count(commits, in: pool)
        try await pool.write { db in _ = try engine.createTask(Doubler.self, 1, key: "k", in: db) }
        #expect(try await count(commits, in: pool) == before + 1)
        // The same key and input again: nothing new, no raise.
        try await pool.write { db in _ = try engine.createTask(Doubler.self, 1, key: "k", in: db) }
        #expect(try await count(commits, in: pool) == before + 1)
        try engine.close()
    }

    @Test("a task created in the application's transaction reaches a worker on another connection")
    func otherConnectionsWorkerRunsIt() async throws {
        let directory = TemporaryDirectory()
        let file = directory.file("app.sqlite")
        let pool = try applicationPool(file)
        let creator = try sharingEngine(pool)
        let worker = try makeEngine(in: directory, file: "app.sqlite")
        let value = try await worker.run { worker in
            let task = try await pool.write { db in try creator.createTask(Doubler.self, 4, in: db) }
            return try await worker.task(id: task.id, as: Doubler.self).value
        }
        #expect(value == 8)
        try worker.close()
        try creator.close()
    }

    @Test("either side may create the file first; another program's file, or one with Durable's names, is refused as it is")
    func sharedFileOpening() async throws {
        let directory = TemporaryDirectory()
        // The application first: refused by path unless the file is shared.
        let appFirst = directory.file("app-first.sqlite")
        try applicationPool(appFirst).close()
        #expect {
            try TaskEngine(path: appFirst)
        } throws: { error in
            ((error as? DurableError)?.message.contains("sharesFileWithApplication")) == true
        }
        #expect(try Self.tables(appFirst) == Self.applicationTables)
        var shared = SQLiteConfiguration()
        shared.sharesFileWithApplication = true
        try TaskEngine(path: appFirst, sqlite: shared).close()
        #expect(Set(try Self.tables(appFirst)).isSuperset(of: Self.applicationTables + ["durable_tasks"]))
        // Durable first, then the application's migrations: opens either way.
        let durableFirst = directory.file("durable-first.sqlite")
        try TaskEngine(path: durableFirst).close()
        let pool = try applicationPool(durableFirst)
        try TaskEngine(sharing: pool).close()
        try TaskEngine(path: durableFirst).close()
        try pool.close()
        // Another program's database (its own application_id): refused even when shared.
        let foreign = directory.file("foreign.sqlite")
        try await DatabaseQueue(path: foreign).write { db in
            try db.execute(sql: "PRAGMA application_id = 305419896; CREATE TABLE notes (body TEXT)")
        }
        #expect {
            try TaskEngine(path: foreign, sqlite: shared)
        } throws: { error in
            ((error as? DurableError)?.message.contains("another program's")) == true
        }
        #expect(try Self.tables(foreign) == ["notes"])
        // The application's own id, given through its own pool: the application's file.
        let ownID = directory.file("own-id.sqlite")
        let ownPool = try DatabasePool(path: ownID)
        try await ownPool.write { db in
            try db.execute(sql: "PRAGMA application_id = 305419896; CREATE TABLE orders (id INTEGER PRIMARY KEY)")
        }
        try TaskEngine(sharing: ownPool).close()
        #expect(try await ownPool.read { db in try Int32.fetchOne(db, sql: "PRAGMA application_id") } == 305_419_896)
        try ownPool.close()
        #expect(try Self.tables(ownID).contains("durable_tasks"))
        // Not migrating (appliesMigrations = false) an application's file: refused, unchanged.
        let unmigrated = directory.file("unmigrated.sqlite")
        try applicationPool(unmigrated).close()
        #expect {
            try TaskEngine(path: unmigrated, configuration: { var c = EngineConfiguration(); c.appliesMigrations = false; return c }(), sqlite: shared)
        } throws: { error in
            (error as? DurableError)?.code == .schemaTooOld
        }
        #expect(try Self.tables(unmigrated) == Self.applicationTables)
        // An application table whose name has Durable's prefix.
        let clash = directory.file("clash.sqlite")
        try await DatabaseQueue(path: clash).write { db in try db.execute(sql: "CREATE TABLE durable_tasks (title TEXT)") }
        let clashPool = try DatabasePool(path: clash)
        #expect {
            try TaskEngine(sharing: clashPool)
        } throws: { error in
            ((error as? DurableError)?.message.contains("(durable_tasks)")) == true
        }
        try clashPool.close()
        #expect(try Self.tables(clash) == ["durable_tasks"])
    }

    @Test("every table, view and index of a new Durable file has Durable's prefix")
    func everyNameHasThePrefix() async throws {
        let directory = TemporaryDirectory()
        try TaskEngine(path: directory.file("durable.sqlite")).close()
        let queue = try DatabaseQueue(path: directory.file("durable.sqlite"))
        let names = try await queue.read { db in
            try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        }
        try queue.close()
        #expect(names.count > 20)
        #expect(names.filter { !$0.hasPrefix(SchemaNames.prefix) } == [])
    }

    private static let applicationTables = ["grdb_migrations", "orders", "queues", "tasks"]

    private static func tables(_ file: String) throws -> [String] {
        let queue = try DatabaseQueue(path: file)
        defer { try? queue.close() }
        return try queue.read { db in
            try String.fetchAll(
                db, sql: "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
        }
    }
}
