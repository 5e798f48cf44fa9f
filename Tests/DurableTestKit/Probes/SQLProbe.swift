public import DurablePostgres
import DurableSQLite
import Foundation
import Logging
import PostgresNIO

/// Plain SQL on either store, on a connection of its own: what a person with
/// `sqlite3` or `psql` types. Values come back as text (integers in decimal,
/// booleans as 1 and 0, NULL as an empty string), so one test reads both
/// stores; its SQL must be valid in both dialects. It names Durable's tables
/// and views as PostgreSQL's search path shows them (`tasks`, `task_history`);
/// on SQLite each gets its `durable_` prefix (``SchemaNames/prefixed(_:)``).
public final class SQLProbe: Sendable {
    private enum Backend: Sendable {
        case sqlite(DatabaseProbe)
        case postgres(PostgresConnection)
    }

    private let backend: Backend

    private init(_ backend: Backend) {
        self.backend = backend
    }

    /// Opens `database`: an SQLite file, or a `postgres://...?schema=...` URL.
    public static func open(_ database: String) async throws -> SQLProbe {
        guard PostgresConfiguration.isURL(database) else { return SQLProbe(.sqlite(try DatabaseProbe(path: database))) }
        return try await open(postgres: try PostgresConfiguration(url: database))
    }

    /// Opens a session on `configuration`'s server with its schema as search path.
    public static func open(postgres configuration: PostgresConfiguration) async throws -> SQLProbe {
        var session = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: .disable)
        session.options.additionalStartupParameters = [("search_path", configuration.schema)]
        let connection = try await PostgresConnection.connect(configuration: session, id: 1, logger: quiet)
        return SQLProbe(.postgres(connection))
    }

    /// Every row of `sql`, each column as text.
    public func table(_ sql: String) async throws -> [[String]] {
        switch backend {
        case .sqlite(let probe):
            return try probe.rows(SchemaNames.prefixed(sql)).map { row in
                row.databaseValues.map { value in
                    value.isNull ? "" : (String.fromDatabaseValue(value) ?? value.description)
                }
            }
        case .postgres(let connection):
            do {
                return try await connection.query(PostgresQuery(unsafeSQL: sql), logger: Self.quiet).collect().map {
                    try $0.makeRandomAccess().map(Self.text)
                }
            } catch {
                throw TestKitError("\(sql): \(String(reflecting: error))")
            }
        }
    }

    /// The first column of every row.
    public func strings(_ sql: String) async throws -> [String] {
        try await table(sql).map { $0.first ?? "" }
    }

    /// The first column of the first row as an integer (0 when there is none).
    public func int(_ sql: String) async throws -> Int {
        Int(try await strings(sql).first ?? "") ?? 0
    }

    /// The first column of every row, as ids.
    public func ids(_ sql: String) async throws -> Set<Int64> {
        Set(try await strings(sql).compactMap { Int64($0) })
    }

    /// Runs a statement that changes rows.
    public func execute(_ sql: String) async throws {
        switch backend {
        case .sqlite(let probe): try probe.execute(SchemaNames.prefixed(sql))
        case .postgres: _ = try await table(sql)
        }
    }

    public func close() async {
        switch backend {
        case .sqlite(let probe): try? probe.close()
        case .postgres(let connection): try? await connection.close()
        }
    }

    private static func text(_ cell: PostgresCell) throws -> String {
        guard cell.bytes != nil else { return "" }
        switch cell.dataType {
        case .int2, .int4, .int8: return String(try cell.decode(Int64.self))
        case .bool: return try cell.decode(Bool.self) ? "1" : "0"
        case .float4, .float8, .numeric: return String(try cell.decode(Double.self))
        default: return try cell.decode(String.self)
        }
    }

    static let quiet = Logger(label: "SQLProbe", factory: { _ in SwiftLogNoOpLogHandler() })
}
