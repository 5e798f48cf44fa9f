import ArgumentParser
import Durable
import Foundation

/// `durable schema`: the migrations applied to a database.
struct Schema: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the schema migrations applied to the database, without changing it.")

    @OptionGroup var database: DatabaseOption

    func run() throws {
        let report = try SchemaReport(path: database.path)
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
            "\(database.path): schema version \(report.applied.last?.version ?? 0); "
                + "this build knows up to \(report.latestKnownVersion)")
    }
}
