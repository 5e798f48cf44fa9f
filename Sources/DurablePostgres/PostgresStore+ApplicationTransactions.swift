import DurableEngine
import Logging
import PostgresNIO

// Tasks stored in an application's own transaction on a connection of its own.
extension PostgresStore {
    /// Inserts `tasks` in the transaction open on the application's
    /// `connection`, all or none (inside a savepoint, so a failure leaves the
    /// transaction as it was before the call). Durable's schema is put first on
    /// the search path only for these statements. The tasks exist once that
    /// transaction commits, and not at all if it rolls back; the notification
    /// trigger tells every worker at the commit.
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
            guard database == configuration.database else {
                throw DurableError(
                    .invalidArgument,
                    "the connection given is to the database \(database), not to the engine's \(location)")
            }
            var transitions = PostgresTransitions(connection: connection, now: now)
            transitions.preparesStatements = false
            let created = try await transitions.insert(tasks)
            try await connection.query("SELECT set_config('search_path', \(searchPath), true)", logger: logger)
            try await connection.query("RELEASE SAVEPOINT durable_create_tasks", logger: logger)
            return created
        } catch {
            // Back to the savepoint: the rows, and the search path, as before the call.
            _ = try? await connection.query("ROLLBACK TO SAVEPOINT durable_create_tasks", logger: logger)
            _ = try? await connection.query("RELEASE SAVEPOINT durable_create_tasks", logger: logger)
            throw PostgresErrors.describe(error, location: location, operation: operation)
        }
    }

    /// The logger of the statements run on the application's connection: silent.
    private static let quietLogger = Logger(label: "Durable.applicationTransaction", factory: { _ in SwiftLogNoOpLogHandler() })
}
