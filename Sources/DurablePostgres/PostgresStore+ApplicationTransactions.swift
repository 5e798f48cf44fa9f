import DurableEngine
import Logging
import PostgresNIO

// Tasks stored in an application's own transaction on a connection of its own.
extension PostgresStore {
    /// Inserts `tasks` in the transaction open on the application's
    /// `connection`, all or none (inside a savepoint, so a failure leaves the
    /// transaction as it was before the call). The tasks exist once that
    /// transaction commits, and not at all if it rolls back; the notification
    /// trigger tells every worker at the commit.
    ///
    /// Tasks without key, group or concurrency key are stored by one statement
    /// that names Durable's schema itself: three round trips with the savepoint.
    /// The others take the statements of ``PostgresTransitions``, with Durable's
    /// schema put first on the search path for them only.
    ///
    /// - Throws: ``DurableError/Code/invalidArgument`` when the connection is not
    ///   inside a transaction or is connected to another database; the errors
    ///   of creating tasks otherwise.
    func createTasks(_ tasks: [NewTask], now: Int64, in connection: PostgresConnection) async throws -> [CreatedTask] {
        guard access == .readWrite else {
            throw DurableError(.readOnlyDatabase, "\(location) is open read-only: cannot create tasks")
        }
        guard !tasks.isEmpty else { return [] }
        let operation = "create \(tasks.count) task(s) in the application's transaction"
        let logger = Self.quietLogger
        do {
            try await connection.query("SAVEPOINT durable_create_tasks", logger: logger)
        } catch where PostgresErrors.sqlState(error) == "25P01" {
            throw DurableError(
                .invalidArgument,
                "creating tasks in an application's transaction needs a connection inside a transaction "
                    + "(withTransaction { connection in … }); this one is not in a transaction")
        } catch {
            throw PostgresErrors.describe(error, location: location, operation: operation)
        }
        do {
            var transitions = PostgresTransitions(connection: connection, now: now)
            transitions.preparesStatements = false
            let created: [CreatedTask]
            let database: String
            if PostgresTransitions.insertsInOneStatement(tasks) {
                transitions.applicationSchema = configuration.schema
                created = try await transitions.insert(tasks)
                database = transitions.insertedDatabase ?? configuration.database
            } else {
                (created, database) = try await insertOnSearchPath(tasks, transitions: &transitions, connection: connection)
            }
            guard database == configuration.database else {
                throw DurableError(
                    .invalidArgument,
                    "the connection given is to the database \(database), not to the engine's \(location)")
            }
            try await connection.query("RELEASE SAVEPOINT durable_create_tasks", logger: logger)
            return created
        } catch {
            // Back to the savepoint: the rows, and the search path, as before the call.
            _ = try? await connection.query("ROLLBACK TO SAVEPOINT durable_create_tasks", logger: logger)
            _ = try? await connection.query("RELEASE SAVEPOINT durable_create_tasks", logger: logger)
            if let state = PostgresErrors.sqlState(error), ["42P01", "3F000"].contains(state) {
                throw DurableError(
                    .invalidArgument,
                    "the connection given has no Durable tables in the schema \(configuration.schema) "
                        + "(\(PostgresErrors.detail(error))): it must be connected to the engine's \(location)")
            }
            throw PostgresErrors.describe(error, location: location, operation: operation)
        }
    }

    /// Inserts `tasks` with Durable's schema first on the connection's search
    /// path, put back as it was afterwards; returns them and the connection's
    /// database.
    private func insertOnSearchPath(
        _ tasks: [NewTask], transitions: inout PostgresTransitions, connection: PostgresConnection
    ) async throws -> ([CreatedTask], String) {
        let logger = Self.quietLogger
        // One round trip: the application's search path, read before Durable's
        // schema is put first on it, and the database to check.
        let schema = PostgresSchemaMigrator.quoted(configuration.schema)
        let rows = try await connection.query(
            """
            SELECT s.previous, current_database(),
                   set_config('search_path', \(schema)::text || CASE WHEN s.previous = '' THEN '' ELSE ', ' || s.previous END, true)
            FROM (SELECT current_setting('search_path') AS previous) AS s
            """, logger: logger
        ).collect()
        let (searchPath, database, _) = try rows.first?.decode((String, String, String).self) ?? ("", "", "")
        guard database == configuration.database else { return ([], database) }
        let created = try await transitions.insert(tasks)
        try await connection.query("SELECT set_config('search_path', \(searchPath), true)", logger: logger)
        return (created, database)
    }

    /// The logger of the statements run on the application's connection: silent.
    private static let quietLogger = Logger(label: "Durable.applicationTransaction", factory: { _ in SwiftLogNoOpLogHandler() })
}
