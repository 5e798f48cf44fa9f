public import DurableEngine
public import Logging

extension TaskEngine {
    /// Opens an engine on a PostgreSQL database: connects, creates Durable's schema
    /// if needed and applies missing migrations (many processes starting at once
    /// migrate once).
    ///
    /// ```swift
    /// import DurablePostgres
    ///
    /// let engine = try await TaskEngine(postgres: PostgresConfiguration(url: "postgres://app@db:5432/jobs"))
    /// engine.register(Resize())
    /// try await engine.run()
    /// ```
    ///
    /// Every engine on the same database and schema shares its tasks, on any
    /// number of machines; the API is the same as on SQLite.
    ///
    /// - Throws: ``/DurableEngine/DurableError`` naming host, port, database and schema
    ///   when the server cannot be reached, refuses the login, has no such
    ///   database, or holds a schema that is not Durable's or is newer than this
    ///   build. Nothing stored is changed then.
    public convenience init(
        postgres: PostgresConfiguration, configuration: EngineConfiguration = EngineConfiguration(),
        logger: Logger = Logger(label: "Durable")
    ) async throws {
        try configuration.validate()
        let store = try await PostgresStore.open(
            configuration: postgres, now: configuration.clock.now(),
            appliesMigrations: configuration.appliesMigrations, access: configuration.access,
            host: ProcessIdentity.current.host, logger: logger)
        self.init(store: store, configuration: configuration, logger: logger)
    }
}
