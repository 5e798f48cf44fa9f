import DurablePostgres
import Foundation
import Logging
import PostgresNIO

/// Plain SQL on the store of this test run (``TestStore``), as a person with
/// `sqlite3` or `psql` would type it: the tests read what engines stored
/// through it. The SQL must be valid in both dialects (`CAST(x AS TEXT)`, no
/// SQLite-only functions).
///
/// `path` names the engine's database as ``makeTestEngine(in:file:gates:counter:log:logger:configure:sqlite:)``
/// opened it: the SQLite file, or the file whose name stands for a PostgreSQL schema.
public enum StoreProbe {
    /// The first column of each row of `sql`, as text (integers in decimal,
    /// booleans as 1 and 0, NULL as an empty string).
    public static func read(_ path: String, _ sql: String) async throws -> [String] {
        switch TestStore.current {
        case .sqlite:
            return try await DatabaseProbe.read(path, sql)
        case .postgres:
            return try await withConnection(schema: PostgresTestServer.schemaName(for: path)) { connection in
                try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quiet).collect().map { row in
                    try text(of: row.makeRandomAccess()[0])
                }
            }
        }
    }

    /// Runs a statement that changes rows (a hand edit).
    public static func execute(_ path: String, _ sql: String) async throws {
        switch TestStore.current {
        case .sqlite:
            let probe = try DatabaseProbe(path: path)
            try probe.execute(sql)
            try probe.close()
        case .postgres:
            try await withConnection(schema: PostgresTestServer.schemaName(for: path)) { connection in
                _ = try await connection.query(PostgresQuery(unsafeSQL: sql), logger: quiet).collect()
            }
        }
    }

    private static func text(of cell: PostgresCell) throws -> String {
        guard cell.bytes != nil else { return "" }
        switch cell.dataType {
        case .int2, .int4, .int8: return String(try cell.decode(Int64.self))
        case .bool: return try cell.decode(Bool.self) ? "1" : "0"
        case .float4, .float8, .numeric: return String(try cell.decode(Double.self))
        default: return try cell.decode(String.self)
        }
    }

    private static let quiet = Logger(label: "StoreProbe", factory: { _ in SwiftLogNoOpLogHandler() })

    private static func withConnection<T: Sendable>(
        schema: String, _ body: (PostgresConnection) async throws -> T
    ) async throws -> T {
        let server = try PostgresTestServer.configuration(schema: schema)
        var configuration = PostgresConnection.Configuration(
            host: server.host, port: server.port, username: server.username, password: server.password,
            database: server.database, tls: .disable)
        configuration.options.additionalStartupParameters = [("search_path", schema)]
        let connection = try await PostgresConnection.connect(configuration: configuration, id: 1, logger: quiet)
        do {
            let value = try await body(connection)
            try await connection.close()
            return value
        } catch {
            try? await connection.close()
            throw error
        }
    }
}
