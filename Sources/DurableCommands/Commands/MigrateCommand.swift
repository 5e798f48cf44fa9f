import ArgumentParser
import Durable
import Foundation

/// `durable migrate`: apply the migrations this build has.
struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Apply the schema migrations this build has and the database lacks (creating it if needed).",
        discussion: """
            On PostgreSQL this creates Durable's schema (durable, or ?schema= in the URL) in the database when \
            it is missing; the database itself must exist. Many processes migrating at once migrate once. \
            With --shared, an SQLite file that already holds an application's own tables gets Durable's beside \
            them (a file of another program, with its own application_id, is still refused).
            """)

    @OptionGroup var database: DatabaseOption

    @Flag(help: "Add Durable's tables to an SQLite file that holds an application's own tables.")
    var shared = false

    func run() async throws {
        guard database.isPostgres else {
            let before = (try? SchemaReport(path: database.given))?.applied.count ?? 0
            try await database.openEngine(sharesFile: shared).close()
            let report = try SchemaReport(path: database.given)
            print(
                "\(database.location): schema version \(report.applied.last?.version ?? 0) "
                    + "(\(report.applied.count - before) migration(s) applied now)")
            return
        }
        // The migrations this open applies are stamped with this process's clock,
        // from now on.
        let started = EngineConfiguration().clock.now()
        let engine = try await database.openEngine()
        defer { try? engine.close() }
        let applied = try await engine.appliedMigrations()
        let now = applied.filter { $0.appliedAt >= started }.count
        print(
            "\(database.location): schema version \(applied.last?.version ?? 0) (\(now) migration(s) applied now)")
    }
}
