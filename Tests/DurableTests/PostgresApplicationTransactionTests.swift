import DurableTestKit
import Durable
import DurablePostgres
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// Tasks created in the application's own transaction on PostgreSQL: the
/// application's tables in a schema of its own, Durable's in its schema, one
/// transaction on the application's connection (issue 17).
@Suite("Tasks in the application's transaction (PostgreSQL)")
struct PostgresApplicationTransactionTests {
    /// An engine on a new schema, and the application's own connection whose
    /// search path is its own new schema, holding `orders`.
    private func setUp() async throws -> (engine: TaskEngine, connection: PostgresConnection, appSchema: String, durableSchema: String) {
        let durableSchema = PostgresTestServer.newSchemaName()
        let engine = try await makePostgresEngine(schema: durableSchema)
        let postgres = try PostgresTestServer.configuration()
        var session = PostgresConnection.Configuration(
            host: postgres.host, port: postgres.port, username: postgres.username, password: postgres.password,
            database: postgres.database, tls: .disable)
        let appSchema = PostgresTestServer.newSchemaName()
        session.options.additionalStartupParameters = [("search_path", appSchema), ("application_name", "the-app")]
        let connection = try await PostgresConnection.connect(configuration: session, id: 1, logger: testLogger)
        do {
            for sql in [
                "CREATE SCHEMA \(appSchema)",
                "CREATE TABLE \(appSchema).orders (id bigint PRIMARY KEY, total bigint NOT NULL, confirmation bigint)",
                // The application's own tables with Durable's names, first on its search path.
                "CREATE TABLE \(appSchema).tasks (title text NOT NULL)",
                "CREATE TABLE \(appSchema).queues (name text NOT NULL)",
            ] {
                _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: testLogger)
            }
        } catch {
            try? await connection.close()
            try? engine.close()
            throw error
        }
        return (engine, connection, appSchema, durableSchema)
    }

    private func tearDown(_ engine: TaskEngine, _ connection: PostgresConnection, _ appSchema: String) async throws {
        _ = try await connection.query(PostgresQuery(unsafeSQL: "DROP SCHEMA \(appSchema) CASCADE"), logger: testLogger)
        try await connection.close()
        try engine.close()
    }

    /// Runs `body` between ``setUp()`` and ``tearDown(_:_:_:)``, which runs
    /// also when `body` throws (a connection must be closed before it goes).
    private func withApplication(
        _ body: (_ engine: TaskEngine, _ connection: PostgresConnection, _ appSchema: String, _ durableSchema: String)
            async throws -> Void
    ) async throws {
        let (engine, connection, appSchema, durableSchema) = try await setUp()
        do {
            try await body(engine, connection, appSchema, durableSchema)
        } catch {
            try? await tearDown(engine, connection, appSchema)
            throw error
        }
        try await tearDown(engine, connection, appSchema)
    }

    private func count(_ sql: String, on connection: PostgresConnection) async throws -> Int {
        let rows = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: testLogger).collect()
        return try rows.first?.decode(Int.self) ?? -1
    }

    @Test("an order and its task commit together; the task runs once; orders join the task views across schemas")
    func commitsTogether() async throws {
        let (engine, connection, appSchema, durableSchema) = try await setUp()
        let task = try await connection.withTransaction(logger: testLogger) { connection in
            _ = try await connection.query("INSERT INTO orders (id, total) VALUES (7, 21)", logger: testLogger)
            let task = try await engine.createTask(Doubler.self, 21, name: "confirm 7", key: "confirm:7", in: connection)
            // The application's names resolve as before the call.
            _ = try await connection.query(
                "UPDATE orders SET confirmation = \(task.id.rawValue) WHERE id = 7", logger: testLogger)
            return task
        }
        #expect(try await engine.run { _ in try await task.value } == 42)
        let rows = try await connection.query(
            PostgresQuery(
                unsafeSQL: """
                    SELECT o.id, h.name, h.status FROM orders AS o
                    JOIN \(durableSchema).task_history AS h ON h.id = o.confirmation
                    """), logger: testLogger
        ).collect()
        let joined = try rows.map { try $0.decode((Int64, String, String).self) }
        #expect(joined.map { "\($0.0) \($0.1) \($0.2)" } == ["7 confirm 7 succeeded"])
        try await tearDown(engine, connection, appSchema)
    }

    @Test("a rolled-back transaction leaves no task and no key; the search path is the application's again")
    func rollbackLeavesNothing() async throws {
        let (engine, connection, appSchema, durableSchema) = try await setUp()
        struct Refused: Error {}
        let searchPaths = Mutex<[String]>([])
        let rolledBack = Mutex<DurableTask<Int>?>(nil)
        await #expect(throws: (any Error).self) {
            try await connection.withTransaction(logger: testLogger) { connection in
                _ = try await connection.query("INSERT INTO orders (id, total) VALUES (1, 5)", logger: testLogger)
                let task = try await engine.createTask(
                    Doubler.self, 5, key: "confirm:1", options: TaskOptions(delay: .seconds(60)), in: connection)
                rolledBack.withLock { $0 = task }
                let path = try await connection.query("SELECT current_setting('search_path')", logger: testLogger)
                    .collect().first?.decode(String.self)
                searchPaths.withLock { $0.append(path ?? "") }
                throw Refused()
            }
        }
        #expect(searchPaths.withLock { $0 } == [appSchema])
        #expect(try await count("SELECT count(*) FROM orders", on: connection) == 0)
        #expect(try await count("SELECT count(*) FROM \(durableSchema).tasks", on: connection) == 0)
        let handle = try #require(rolledBack.withLock { $0 })
        await #expect {
            try await handle.value
        } throws: { error in
            (error as? DurableError)?.code == .unknownTask
        }
        let task = try await connection.withTransaction(logger: testLogger) { connection in
            _ = try await connection.query("INSERT INTO orders (id, total) VALUES (1, 6)", logger: testLogger)
            return try await engine.createTask(Doubler.self, 6, key: "confirm:1", in: connection)
        }
        #expect(try await engine.run { _ in try await task.value } == 12)
        #expect(try await count("SELECT count(*) FROM \(durableSchema).tasks", on: connection) == 1)
        try await tearDown(engine, connection, appSchema)
    }

    @Test("a failing call leaves the transaction usable; outside a transaction the call is refused")
    func failedCallKeepsTransaction() async throws {
        let (engine, connection, appSchema, durableSchema) = try await setUp()
        try await connection.withTransaction(logger: testLogger) { connection in
            _ = try await engine.createTask(Doubler.self, 1, key: "taken", in: connection)
        }
        let caught = try await connection.withTransaction(logger: testLogger) { connection -> DurableError? in
            _ = try await connection.query("INSERT INTO orders (id, total) VALUES (2, 2)", logger: testLogger)
            do {
                _ = try await engine.createTasks(
                    Doubler.self, [TaskRequest(10), TaskRequest(11), TaskRequest(2, key: "taken")], in: connection)
                return nil
            } catch let error as DurableError {
                // The transaction goes on.
                _ = try await connection.query("INSERT INTO orders (id, total) VALUES (3, 3)", logger: testLogger)
                return error
            }
        }
        #expect(caught?.code == .keyConflict)
        #expect(try await count("SELECT count(*) FROM orders", on: connection) == 2)
        #expect(try await count("SELECT count(*) FROM \(durableSchema).tasks", on: connection) == 1)
        do {
            _ = try await engine.createTask(Doubler.self, 1, in: connection)
            Issue.record("a call outside a transaction was accepted")
        } catch let error as DurableError {
            #expect(error.code == .invalidArgument)
            #expect(error.message.contains("not in a transaction"))
        }
        #expect(try await count("SELECT count(*) FROM \(durableSchema).tasks", on: connection) == 1)
        try await tearDown(engine, connection, appSchema)
    }

    @Test("tasks without key or group take one statement in Durable's schema: every option, other queues, and the application's own tasks and queues tables untouched")
    func oneStatementPath() async throws {
        try await withApplication { engine, connection, appSchema, durableSchema in
            let options = TaskOptions(
                priority: 3, timeout: .seconds(30), retry: RetryPolicy(maxAttempts: 2), queue: "emails")
            let tasks = try await connection.withTransaction(logger: testLogger) { connection in
                _ = try await connection.query("INSERT INTO orders (id, total) VALUES (4, 8)", logger: testLogger)
                let tasks = try await engine.createTasks(
                    Doubler.self,
                    [
                        TaskRequest(4, name: "first", context: ["order": "4"], options: options),
                        TaskRequest(5, options: TaskOptions(delay: .milliseconds(10), deadline: Date().addingTimeInterval(3600))),
                    ],
                    in: connection)
                let path = try await connection.query("SELECT current_setting('search_path')", logger: testLogger)
                    .collect().first?.decode(String.self)
                #expect(path == appSchema)
                return tasks
            }
            #expect(try await count("SELECT count(*) FROM \(appSchema).tasks", on: connection) == 0)
            #expect(try await count("SELECT count(*) FROM \(appSchema).queues", on: connection) == 0)
            #expect(try await count("SELECT count(*) FROM \(durableSchema).queues WHERE name = 'emails'", on: connection) == 1)
            let first = try await engine.record(of: tasks[0].id)
            #expect(first.name == "first")
            #expect(first.context == ["order": "4"])
            #expect(first.priority == 3)
            #expect(first.queue == "emails")
            let values = try await engine.run { _ in
                [try await tasks[0].value, try await tasks[1].value]
            }
            #expect(values == [8, 10])
        }
    }

    @Test("a connection to another database is refused, also when that database has Durable's schema; nothing is stored there")
    func otherDatabaseRefused() async throws {
        try await withApplication { engine, connection, appSchema, durableSchema in
            let database = "durable_other_" + PostgresTestServer.newSchemaName()
            _ = try await connection.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(database)"), logger: testLogger)
            var elsewhere = try PostgresTestServer.configuration(schema: durableSchema)
            elsewhere.database = database
            let other = try await PostgresConnection.connect(
                configuration: PostgresConnection.Configuration(
                    host: elsewhere.host, port: elsewhere.port, username: elsewhere.username, password: elsewhere.password,
                    database: database, tls: .disable),
                id: 2, logger: testLogger)
            do {
                func refusal(_ request: TaskRequest<Int>) async throws -> String? {
                    try await other.withTransaction(logger: testLogger) { other in
                        do {
                            _ = try await engine.createTasks(Doubler.self, [request], in: other)
                            return nil
                        } catch let error as DurableError {
                            #expect(error.code == .invalidArgument)
                            return error.message
                        }
                    }
                }
                // No Durable tables there: each path says so.
                #expect(try await refusal(TaskRequest(1))?.contains("no Durable tables in the schema \(durableSchema)") == true)
                #expect(try await refusal(TaskRequest(2, key: "k"))?.contains("not to the engine's") == true)
                // Durable's schema, of the same name, there too: still refused, and rolled back.
                let engineElsewhere = try await TaskEngine(postgres: elsewhere, logger: testLogger)
                #expect(try await refusal(TaskRequest(3))?.contains("the database \(database), not to the engine's") == true)
                #expect(try await count("SELECT count(*) FROM \(durableSchema).tasks", on: other) == 0)
                try engineElsewhere.close()
            } catch {
                try? await other.close()
                throw error
            }
            try await other.close()
            _ = try await connection.query(
                PostgresQuery(unsafeSQL: "DROP DATABASE \(database) WITH (FORCE)"), logger: testLogger)
        }
    }
}
