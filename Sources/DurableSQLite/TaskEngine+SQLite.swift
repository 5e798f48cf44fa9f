public import DurableEngine
public import Logging

extension TaskEngine {
    /// Opens (or creates) the database at `path` and applies missing migrations;
    /// with ``/DurableEngine/DatabaseAccess/readOnly`` access, opens an existing file for reading
    /// only.
    ///
    /// ```swift
    /// let engine = try TaskEngine(path: "jobs.sqlite")
    /// ```
    ///
    /// - Parameters:
    ///   - path: The database file.
    ///   - configuration: How the engine runs tasks.
    ///   - sqlite: How the store uses the file; `nil` takes the deprecated SQLite
    ///     fields of `configuration` (whose defaults are the same).
    ///   - logger: Where the engine logs; it never bootstraps logging.
    ///
    /// - Throws: ``/DurableEngine/DurableError`` naming the file when it is not an SQLite database,
    ///   is another program's database, was written by a newer Durable, or cannot
    ///   be read or written. Nothing stored in it is changed then.
    ///   ``/DurableEngine/DurableError/Code/invalidArgument`` naming the setting when a
    ///   configuration value is out of range; the file is not opened then.
    public convenience init(
        path: String, configuration: EngineConfiguration = EngineConfiguration(), sqlite: SQLiteConfiguration? = nil,
        logger: Logger = Logger(label: "Durable")
    ) throws {
        try configuration.validate()
        let sqlite = sqlite ?? SQLiteConfiguration(configuration)
        try sqlite.validate()
        let store = try SQLiteStore(
            path: path, configuration: sqlite, now: configuration.clock.now(),
            appliesMigrations: configuration.appliesMigrations, access: configuration.access)
        self.init(store: store, configuration: configuration, logger: logger)
    }
}
