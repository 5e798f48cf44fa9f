import DurableTestKit
import Durable
import DurablePostgres
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
}
