import ArgumentParser
import Durable
import Foundation

/// `durable schema`: the migrations applied to a database.
struct Schema: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the schema migrations applied to the database, without changing it.",
        discussion: """
            On PostgreSQL the schema is read through a read-only engine, which refuses a schema that is missing, \
            older or newer than this build (the error says which; durable migrate applies what is missing).
            """)

    @OptionGroup var database: DatabaseOption

    func run() async throws {
        let report = try await Self.report(of: database)
        let formatter = ISO8601DateFormatter()
        var table = TextTable(columns: ["version", "name", "applied"])
        for migration in report.applied {
            let date = Date(timeIntervalSince1970: Double(migration.appliedAt) / 1000)
            let newer = migration.version > report.latestKnownVersion ? " (newer than this build)" : ""
            table.add(["\(migration.version)", migration.name, formatter.string(from: date) + newer])
        }
        for migration in report.pending {
            table.add(["\(migration.version)", migration.name, "(not applied yet)"])
        }
        print(table.rendered(), terminator: "")
        print(
            "\(database.location): schema version \(report.applied.last?.version ?? 0); "
                + "this build knows up to \(report.latestKnownVersion)")
    }

    /// What the database has applied and what this build knows. An SQLite file is
    /// read as it is (``SchemaReport``); a PostgreSQL schema through a read-only
    /// engine, which opens only when the schema holds exactly the migrations this
    /// build knows, so these are what it has applied.
    static func report(of database: DatabaseOption) async throws -> (
        applied: [AppliedMigration], pending: [SchemaReport.KnownMigration], latestKnownVersion: Int
    ) {
        guard database.isPostgres else {
            let report = try SchemaReport(path: database.given)
            return (report.applied, report.pending, report.latestKnownVersion)
        }
        let engine = try await openForReading(database)
        defer { try? engine.close() }
        let applied = try await engine.appliedMigrations()
        return (applied, [], applied.last?.version ?? 0)
    }
}
