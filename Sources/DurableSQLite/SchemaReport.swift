public import DurableEngine
import GRDB

/// The schema of a Durable file as this build sees it: what is applied, what this
/// build knows. Read without changing the file.
///
/// ```swift
/// let report = try SchemaReport(path: "durable.sqlite")
/// print(report.applied.map(\.version), report.latestKnownVersion)
/// ```
public struct SchemaReport: Sendable, Hashable {
    /// A migration embedded in this build.
    public struct KnownMigration: Sendable, Hashable {
        public var version: Int
        public var name: String
    }

    /// The migrations recorded in the file, oldest first.
    public var applied: [AppliedMigration]
    /// The migrations embedded in this build, oldest first.
    public var known: [KnownMigration]

    /// The newest version this build knows.
    public var latestKnownVersion: Int { known.last?.version ?? 0 }

    /// Known migrations the file has not applied yet.
    public var pending: [KnownMigration] {
        let done = Set(applied.map(\.version))
        return known.filter { !done.contains($0.version) }
    }

    /// Reads the schema of the file at `path`, read-only.
    ///
    /// - Throws: ``/DurableEngine/DurableError`` when the file is missing, is not an SQLite
    ///   database, or is another program's database.
    public init(path: String) throws {
        known = SchemaMigrator.migrations.map { KnownMigration(version: $0.version, name: $0.name) }
        applied = try SQLiteStore.readApplied(path: path)
    }
}
