import DurableTestKit
import Durable

/// The stores a command-line test runs on: an SQLite file, a PostgreSQL schema
/// of the test server (``PostgresTestServer``).
enum CommandStore: String, CaseIterable, CustomStringConvertible {
    case sqlite, postgres

    var description: String { rawValue }

    /// A new database of this store, as `--db` names it: a file in `directory`
    /// (not created yet), or a new schema of the test server.
    func newDatabase(in directory: TemporaryDirectory, file: String = "test.sqlite") throws -> String {
        self == .postgres ? try postgresURL() : directory.file(file)
    }

    /// An engine on a new database of this store, with the test jobs registered,
    /// and the `--db` value that names the database to the `durable` binary.
    func makeEngine(in directory: TemporaryDirectory) async throws -> (engine: TaskEngine, database: String) {
        switch self {
        case .sqlite:
            return (try DurableTestKit.makeEngine(in: directory), directory.file("test.sqlite"))
        case .postgres:
            let schema = PostgresTestServer.newSchemaName()
            return (try await makePostgresEngine(schema: schema), try postgresURL(schema: schema))
        }
    }
}
