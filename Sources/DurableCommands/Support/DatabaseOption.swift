import ArgumentParser
import Durable
import Foundation
import Logging

/// Where the database is: `--db`, else `$DURABLE_DB`, else `./durable.sqlite`.
struct DatabaseOption: ParsableArguments {
    @Option(name: .long, help: "The database file (default: $DURABLE_DB, else ./durable.sqlite).")
    var db: String?

    @Option(name: .long, help: "How long to wait for another process's write lock (e.g. 5s; at most 36500d).")
    var lockTimeout: String = "60s"

    var path: String {
        db ?? ProcessInfo.processInfo.environment["DURABLE_DB"] ?? "durable.sqlite"
    }

    /// Opens the engine on the database; a file that cannot be used gives a
    /// one-line error naming it (the engine's own message).
    func openEngine(
        configure: (inout EngineConfiguration) -> Void = { _ in }, logLevel: Logger.Level = .warning
    ) throws -> TaskEngine {
        var configuration = EngineConfiguration()
        var sqlite = SQLiteConfiguration()
        sqlite.lockTimeout = try DurationArgument(parsing: lockTimeout, option: "--lock-timeout").duration
        configure(&configuration)
        try refuseDirectory()
        var logger = Logger(label: "durable")
        logger.logLevel = logLevel
        return try TaskEngine(path: path, configuration: configuration, sqlite: sqlite, logger: logger)
    }

    /// Fails with a one-line error when the database file does not exist, for
    /// commands that only read or change what is stored.
    func requireExisting() throws {
        guard FileManager.default.fileExists(atPath: path) else {
            throw CommandError("no database at \(path) (use --db or $DURABLE_DB to name another)")
        }
        try refuseDirectory()
    }

    /// A folder given as the database is named as such, not as "cannot open".
    private func refuseDirectory() throws {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue else {
            return
        }
        let file = (path as NSString).appendingPathComponent("durable.sqlite")
        throw CommandError("the database \(path) is a directory; name a database file, such as \(file)")
    }
}

/// An error a command reports as one line on standard error, exiting with 1.
struct CommandError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
