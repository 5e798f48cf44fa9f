import DurableEngine
import PostgresNIO

/// Applies the embedded migrations (`migrations/postgres`) to Durable's schema in
/// a PostgreSQL database, and refuses a schema that is not Durable's or that a
/// newer Durable wrote.
///
/// Everything happens in one transaction under a transaction-scoped advisory
/// lock named after the schema: many workers starting at once migrate once (the
/// others wait for the lock, then find nothing left to do), and a migration that
/// fails leaves nothing half done.
enum PostgresSchemaMigrator {
    static var migrations: [EmbeddedMigration] { EmbeddedMigration.all }

    static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Creates the schema if needed and applies the missing migrations; with
    /// `apply == false`, only checks that none is missing (and creates nothing).
    static func migrate(on connection: PostgresConnection, schema: String, location: String, now: Int64, apply: Bool)
        async throws
    {
        try await connection.run("SELECT pg_advisory_xact_lock(hashtext(\("durable migrations " + schema)))")
        let schemaExists = try await connection.value(
            "SELECT count(*) FROM pg_namespace WHERE nspname = \(schema)", as: Int64.self) ?? 0 > 0
        if !schemaExists {
            guard apply else { throw missingSchema(location) }
            try await connection.run(PostgresQuery(unsafeSQL: "CREATE SCHEMA \(quoted(schema))"))
        }
        try await connection.run(PostgresQuery(unsafeSQL: "SET LOCAL search_path TO \(quoted(schema))"))
        let applied = try await check(on: connection, schema: schema, location: location)
        if !apply {
            try requireAllApplied(applied, location: location)
            return
        }
        if applied.isEmpty, try await ledgerMissing(on: connection, schema: schema) {
            try await connection.run(
                """
                CREATE TABLE durable_migrations (
                    version    BIGINT PRIMARY KEY,
                    name       TEXT NOT NULL,
                    applied_at BIGINT NOT NULL
                )
                """)
        }
        let done = Set(applied.map(\.version))
        for migration in migrations where !done.contains(migration.version) {
            for statement in SQLScript.statements(in: migration.sql) {
                do {
                    try await connection.run(PostgresQuery(unsafeSQL: statement))
                } catch {
                    throw DurableError(
                        .storage,
                        "migration \(migration.version)_\(migration.name) failed on \(location): "
                            + PostgresErrors.detail(error))
                }
            }
            try await connection.run(
                """
                INSERT INTO durable_migrations (version, name, applied_at)
                VALUES (\(Int64(migration.version)), \(migration.name), \(now))
                """)
        }
    }

    /// The migrations recorded in the schema; throws when the schema holds
    /// another program's tables or a newer Durable's schema.
    static func check(on connection: PostgresConnection, schema: String, location: String) async throws
        -> [AppliedMigration]
    {
        if try await ledgerMissing(on: connection, schema: schema) {
            let tables = try await connection.value(
                "SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = \(schema)",
                as: Int64.self) ?? 0
            guard tables == 0 else {
                throw DurableError(
                    .notADurableDatabase,
                    "schema \(schema) of \(location) holds other tables, not Durable's; nothing was changed. "
                        + "Choose another schema (?schema= in the URL)")
            }
            return []
        }
        let applied = try await self.applied(on: connection)
        let newest = applied.map(\.version).max() ?? 0
        if newest > latestVersion {
            throw DurableError(
                .schemaTooNew,
                "\(location) has schema version \(newest), newer than this build of Durable knows "
                    + "(\(latestVersion)); use a newer Durable. Nothing was changed")
        }
        return applied
    }

    /// The migrations recorded in the ledger of the session's schema.
    static func applied(on connection: PostgresConnection) async throws -> [AppliedMigration] {
        try await connection.rows("SELECT version, name, applied_at FROM durable_migrations ORDER BY version").map {
            let (version, name, appliedAt) = try $0.decode((Int64, String, Int64).self)
            return AppliedMigration(version: Int(version), name: name, appliedAt: appliedAt)
        }
    }

    private static func ledgerMissing(on connection: PostgresConnection, schema: String) async throws -> Bool {
        try await connection.value(
            """
            SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname = \(schema) AND c.relname = 'durable_migrations'
            """, as: Int64.self) ?? 0 == 0
    }

    private static func requireAllApplied(_ applied: [AppliedMigration], location: String) throws {
        let versions = Set(applied.map(\.version))
        guard let first = migrations.first(where: { !versions.contains($0.version) }) else { return }
        throw DurableError(
            .schemaTooOld,
            "\(location) has schema version \(versions.max() ?? 0); this build needs \(latestVersion) "
                + "(migration \(first.version)_\(first.name) and later): run `durable migrate` first")
    }

    private static func missingSchema(_ location: String) -> DurableError {
        DurableError(.schemaTooOld, "\(location) has no Durable schema yet: run `durable migrate` first")
    }

    /// `name` as a quoted SQL identifier (names are checked by the configuration).
    static func quoted(_ name: String) -> String {
        "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
