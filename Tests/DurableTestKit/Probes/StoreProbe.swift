import DurableSQLite
import Foundation

/// Plain SQL on the store of this test run (``TestStore``), once: the tests read
/// what engines stored through it. The SQL must be valid in both dialects
/// (`CAST(x AS TEXT)`, no SQLite-only functions), and name Durable's tables as
/// PostgreSQL's search path shows them: `tasks` is `durable_tasks` on SQLite.
///
/// `path` names the engine's database as
/// ``makeTestEngine(in:file:gates:counter:log:logger:configure:sqlite:)`` opened it:
/// the SQLite file, or the file whose name stands for a PostgreSQL schema.
public enum StoreProbe {
    /// The first column of each row of `sql`, as text (see ``SQLProbe``).
    public static func read(_ path: String, _ sql: String) async throws -> [String] {
        switch TestStore.current {
        case .sqlite:
            return try await DatabaseProbe.read(path, SchemaNames.prefixed(sql))
        case .postgres:
            let probe = try await SQLProbe.open(
                postgres: try PostgresTestServer.configuration(schema: PostgresTestServer.schemaName(for: path)))
            do {
                let values = try await probe.strings(sql)
                await probe.close()
                return values
            } catch {
                await probe.close()
                throw error
            }
        }
    }
}
