public import ArgumentParser
import Durable

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The `durable` command: run batches durably and inspect Durable databases.
public struct DurableCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "durable",
        abstract: "Run batches of commands durably and inspect Durable task databases (SQLite or PostgreSQL).",
        discussion: """
            The database is ./durable.sqlite unless --db or $DURABLE_DB names another: an SQLite file, or \
            a PostgreSQL database as postgres://user@host:port/database (?schema=NAME for a schema other \
            than durable; the password in the URL or in $PGPASSWORD). Every task, attempt and result is \
            stored there; `sqlite3 durable.sqlite 'select * from durable_task_history'` (or `psql URL -c 'select * \
            from durable.task_history'`) shows them too. Every command works on both; --lock-timeout is \
            SQLite's and is ignored on PostgreSQL.

            Exit status, in every command: 0 on success; 1 when work failed (a line, a URL; watch: \
            abandoned runs); 2 for bad input or a database that cannot be used (one line on standard \
            error names it; nothing is changed); 64 for a wrong command line; 75 when run or fetch stop \
            because the database cannot be written; 128 + the signal when interrupted.
            """,
        version: "durable \(DurableVersion.current) (schema \(DurableVersion.schemaVersion))",
        subcommands: [
            // run:
            RunCommand.self,
            // fetch:
            FetchCommand.self,
            // inspection:
            List.self, Show.self, Stats.self, Watch.self, Cancel.self, Retry.self, Prune.self, Schema.self,
            SendCommand.self, QueuesCommand.self, SchedulesCommand.self, DashboardCommand.self,
            Migrate.self,
            // started by run:
            GuardLinesCommand.self,
        ]
    )

    public init() {}

    /// Runs the command; bad input and unusable databases exit with 2 in every
    /// command (ArgumentParser's own errors keep its codes: 64 for a wrong command
    /// line), with one line naming the thing.
    public static func execute() async {
        do {
            var command = try parseAsRoot()
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch let error as CommandError {
            refuse(error.description)
        } catch let error as DurableError {
            refuse(error.message)
        } catch {
            exit(withError: error)
        }
    }

    private static func refuse(_ message: String) -> Never {
        writeAll(STDERR_FILENO, Array("Error: \(message.split(separator: "\n").joined(separator: " "))\n".utf8))
        Glibc.exit(2)
    }
}
