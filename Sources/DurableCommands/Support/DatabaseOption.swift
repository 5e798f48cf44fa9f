import ArgumentParser
import Durable
import DurablePostgres
import Foundation
import Logging

/// Where the database is: `--db`, else `$DURABLE_DB`, else `./durable.sqlite`.
/// A `postgres://` (or `postgresql://`) URL names a PostgreSQL database; anything
/// else is an SQLite file.
struct DatabaseOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "The database: an SQLite file, or postgres://user[:password]@host[:port]/database[?schema=s&sslmode=m] "
                + "(password also from $PGPASSWORD) (default: $DURABLE_DB, else ./durable.sqlite).",
            valueName: "file-or-url"))
    var db: String?

    @Option(
        name: .long,
        help: ArgumentHelp(
            "How long to wait for another process's write lock (e.g. 5s; at most 36500d). SQLite only: ignored on "
                + "PostgreSQL, where writers do not lock the whole database."))
    var lockTimeout: String = "60s"

    /// The database as given: a file path or a URL, which may hold a password:
    /// messages use ``location``.
    var given: String {
        db ?? ProcessInfo.processInfo.environment["DURABLE_DB"] ?? "durable.sqlite"
    }

    /// Whether the database is PostgreSQL's.
    var isPostgres: Bool { PostgresConfiguration.isURL(given) }

    /// The database for messages: the file's path, or
    /// `postgres://user@host:port/database (schema s)`, never the password.
    var location: String {
        guard isPostgres else { return given }
        return (try? PostgresTarget(url: given).location) ?? PostgresTarget.redacted(given)
    }

    /// The PostgreSQL database given.
    ///
    /// - Throws: ``CommandError`` naming what is wrong with the URL.
    func postgres() throws -> PostgresTarget {
        try PostgresTarget(url: given)
    }

    /// Opens the engine on the database; a database that cannot be used gives a
    /// one-line error naming it (the engine's own message, or on PostgreSQL the
    /// server's reason, within its connect timeout).
    /// With `sharesFile`, an SQLite file that holds an application's tables gets
    /// Durable's beside them (``SQLiteConfiguration/sharesFileWithApplication``).
    func openEngine(
        configure: (inout EngineConfiguration) -> Void = { _ in }, logLevel: Logger.Level = .warning,
        sharesFile: Bool = false
    ) async throws -> TaskEngine {
        var configuration = EngineConfiguration()
        let lockWait = try DurationArgument(parsing: lockTimeout, option: "--lock-timeout").duration
        configure(&configuration)
        let logger = CommandLogHandler.logger(level: logLevel)
        if isPostgres {
            let target = try postgres()
            return try await TaskEngine(postgres: target.configuration, configuration: configuration, logger: logger)
        }
        try refuseDirectory()
        var sqlite = SQLiteConfiguration()
        sqlite.lockTimeout = lockWait
        sqlite.sharesFileWithApplication = sharesFile
        return try TaskEngine(path: given, configuration: configuration, sqlite: sqlite, logger: logger)
    }

    /// Fails with a one-line error when the database file does not exist, for
    /// commands that only read or change what is stored. (A PostgreSQL database
    /// without Durable's schema is refused when opened, as is a file without it.)
    func requireExisting() throws {
        guard !isPostgres else { return }
        guard FileManager.default.fileExists(atPath: given) else {
            throw CommandError("no database at \(given) (use --db or $DURABLE_DB to name another)")
        }
        try refuseDirectory()
    }

    /// The command line that runs `sql` on the database by hand: `sqlite3 FILE "sql"`,
    /// or `psql "postgres://user@host:port/db" -c "sql"`. `sql` names Durable's
    /// tables and views with the prefix it is given (`durable.`, the schema, on
    /// PostgreSQL; `durable_` on SQLite).
    func shellQuery(_ sql: (_ prefix: String) -> String) -> String {
        if isPostgres, let target = try? postgres() { return target.psqlCommand(sql) }
        return "sqlite3 \(given) \"\(sql(SchemaNames.prefix))\""
    }

    /// What a line's `DURABLE_DATABASE` holds: the file's absolute path, or the
    /// URL without its password (with the schema).
    func environmentValue() throws -> String {
        if isPostgres { return try postgres().identity }
        return URL(fileURLWithPath: given).standardizedFileURL.path
    }

    /// The tasks that `--job` and `--queue` values select. A `durable run` batch
    /// file given by its path, to either, selects that batch's queue
    /// (``RunBatch/identity(ofFile:on:)``), as does `--job run:NAME` (the job name
    /// builds before queues gave a batch); anything else is a job's or a queue's
    /// name.
    func taskSelection(job: String?, queue: String?) throws -> (job: String?, queue: String?) {
        var selected = (job: job, queue: try queue.map { try batchQueue($0) ?? $0 })
        if let job {
            let batch = job.hasPrefix("run:") ? job : try batchQueue(job)
            if let batch {
                if let queue = selected.queue, queue != batch {
                    throw CommandError("--job \(job) is the batch of queue \(batch), and --queue names \(queue)")
                }
                selected = (ShellCommand.name, batch)
            }
        }
        return selected
    }

    /// The queue of the `durable run` batch of the file at `path`, when there is one.
    private func batchQueue(_ path: String) throws -> String? {
        guard !path.hasPrefix("run:"), FileManager.default.fileExists(atPath: path) else { return nil }
        return RunBatch.queue(of: try RunBatch.identity(ofFile: path, on: self))
    }

    /// A folder given as the database is named as such, not as "cannot open".
    private func refuseDirectory() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: given, isDirectory: &isDirectory), isDirectory.boolValue else {
            return
        }
        let file = (given as NSString).appendingPathComponent("durable.sqlite")
        throw CommandError("the database \(given) is a directory; name a database file, such as \(file)")
    }
}

/// An error a command reports as one line on standard error, exiting with 1.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
