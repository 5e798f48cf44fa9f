import ArgumentParser
import Durable
import Foundation

/// The `durable` command: inspect and run Durable databases.
@main
struct DurableCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "durable",
        abstract: "Inspect Durable task databases (SQLite files of durable tasks).",
        version: "durable \(DurableVersion.current) (schema \(DurableVersion.schemaVersion))",
        subcommands: [Schema.self]
    )
}

/// Where the database is: `--db`, else `$DURABLE_DB`, else `./durable.sqlite`.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "The database file (default: $DURABLE_DB, else ./durable.sqlite).")
    var db: String?

    var path: String {
        db ?? ProcessInfo.processInfo.environment["DURABLE_DB"] ?? "durable.sqlite"
    }
}

struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the schema migrations applied to the database, without changing it.")

    @OptionGroup var database: DatabaseOption

    func run() throws {
        let report = try SchemaReport(path: database.path)
        let formatter = ISO8601DateFormatter()
        print("version  name                  applied")
        for migration in report.applied {
            let date = Date(timeIntervalSince1970: Double(migration.appliedAt) / 1000)
            let name = migration.name.padding(toLength: 20, withPad: " ", startingAt: 0)
            let newer = migration.version > report.latestKnownVersion ? "  (newer than this build)" : ""
            print(String(format: "%7d", migration.version) + "  " + name + "  " + formatter.string(from: date) + newer)
        }
        for migration in report.pending {
            let name = migration.name.padding(toLength: 20, withPad: " ", startingAt: 0)
            print(String(format: "%7d", migration.version) + "  " + name + "  (not applied yet)")
        }
        print("\(database.path): schema version \(report.applied.last?.version ?? 0); "
            + "this build knows up to \(report.latestKnownVersion)")
    }
}
