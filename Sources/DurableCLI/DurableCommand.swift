import ArgumentParser
import Durable

/// The `durable` command: run batches durably and inspect Durable databases.
@main
struct DurableCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "durable",
        abstract: "Run batches of commands durably and inspect Durable task databases (SQLite files).",
        discussion: """
            The database is ./durable.sqlite unless --db or $DURABLE_DB names another. Every task, \
            attempt and result is stored there; `sqlite3 durable.sqlite 'select * from task_history'` \
            shows them too.
            """,
        version: "durable \(DurableVersion.current) (schema \(DurableVersion.schemaVersion))",
        subcommands: [
            // run:
            RunCommand.self,
            // fetch:
            FetchCommand.self,
            // inspection:
            List.self, Show.self, Stats.self, Watch.self, Cancel.self, Retry.self, Prune.self, Schema.self,
            Migrate.self,
            // started by run:
            GuardLinesCommand.self,
        ]
    )
}
