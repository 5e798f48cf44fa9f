public import Durable
import DurablePostgres
public import Logging
public import Testing

/// A store that process tests run on, by name: each such test runs once per
/// store, its child processes taking the database as an argument (a file path
/// or a PostgreSQL URL).
public enum ProcessStore: String, Sendable, CaseIterable, CustomTestStringConvertible {
    case sqlite = "SQLite"
    case postgres = "PostgreSQL"

    /// Every store, PostgreSQL included when the tests have a server (without
    /// one, `PostgresServerTests` fails and says so).
    public static var all: [ProcessStore] {
        PostgresTestServer.missingReason == nil ? [.sqlite, .postgres] : [.sqlite]
    }

    /// The database of one test: `file` in `directory`, or a new schema's URL.
    public func database(in directory: TemporaryDirectory, file: String) throws -> String {
        switch self {
        case .sqlite: directory.file(file)
        case .postgres: try PostgresTestServer.newSchemaURL()
        }
    }

    public var testDescription: String { rawValue }
}

/// An engine on `database`: a PostgreSQL URL or an SQLite file.
public func openEngine(
    _ database: String, configuration: EngineConfiguration = EngineConfiguration(), logger: Logger = testLogger
) async throws -> TaskEngine {
    guard PostgresConfiguration.isURL(database) else {
        return try TaskEngine(path: database, configuration: configuration, logger: logger)
    }
    return try await TaskEngine(
        postgres: try PostgresConfiguration(url: database), configuration: configuration, logger: logger)
}
