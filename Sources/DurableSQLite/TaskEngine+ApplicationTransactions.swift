public import DurableEngine
public import GRDB
public import Logging

// An application's data and its tasks in one SQLite file, written together.
extension TaskEngine {
    /// Shares an application's GRDB pool: Durable's tables join the
    /// application's in its file, and tasks can be created inside the
    /// application's own write transactions (``createTask(_:_:name:context:key:options:in:)``).
    ///
    /// Durable's tables are added to the file now (or migrated; a file with
    /// objects named like Durable's is refused and left as it was). The file's
    /// `application_id`, if it has one, is taken as the application's own. Durable writes through the pool's one
    /// writer, so the application and the engine never wait for each other's
    /// write lock in this process. The writer's `PRAGMA synchronous` is set to
    /// the chosen durability (FULL by default), for the application's commits too:
    /// they may hold tasks. Closing the engine leaves the pool open.
    ///
    /// ```swift
    /// let pool = try DatabasePool(path: "app.sqlite")
    /// try appMigrator.migrate(pool)                      // the application's own tables
    /// let engine = try TaskEngine(sharing: pool)         // Durable's, beside them
    /// engine.register(SendConfirmation())
    /// try await pool.write { db in
    ///     try db.execute(sql: "INSERT INTO orders (id, total) VALUES (?, ?)", arguments: [42, 99])
    ///     try engine.createTask(SendConfirmation.self, 42, key: "confirm:42", in: db)
    /// }   // the order and its task commit together, or neither does
    /// ```
    ///
    /// Other processes open the same file with ``TaskEngine/init(path:configuration:sqlite:logger:)``
    /// and ``SQLiteConfiguration/sharesFileWithApplication``. For several
    /// processes writing the file, give the application's pool a busy timeout
    /// (`Configuration.busyMode = .timeout(…)`), as GRDB advises; Durable's own
    /// writes wait for the lock up to ``SQLiteConfiguration/lockTimeout`` either way.
    ///
    /// - Throws: ``/DurableEngine/DurableError`` naming the file when it holds objects
    ///   named like Durable's or was written by a newer Durable; ``/DurableEngine/DurableError/Code/invalidArgument`` for a configuration
    ///   value out of range, or for `configuration.access` `.readOnly` (open the
    ///   file by path to read it only).
    public convenience init(
        sharing pool: DatabasePool, configuration: EngineConfiguration = EngineConfiguration(),
        sqlite: SQLiteConfiguration? = nil, logger: Logger = Logger(label: "Durable")
    ) throws {
        try configuration.validate()
        let sqlite = sqlite ?? SQLiteConfiguration(configuration)
        try sqlite.validate()
        guard configuration.access == .readWrite else {
            throw DurableError(
                .invalidArgument,
                "TaskEngine(sharing:) writes to the application's file; to only read \(pool.path), "
                    + "open it with TaskEngine(path:) and EngineConfiguration.access = .readOnly")
        }
        let store = try SQLiteStore(
            sharing: pool, configuration: sqlite, now: configuration.clock.now(),
            appliesMigrations: configuration.appliesMigrations)
        self.init(store: store, configuration: configuration, logger: logger)
    }

    /// Stores a new task in the application's write transaction on `db`: the
    /// task exists if and only if that transaction commits. Any worker (in this
    /// process or another) learns of it once it has committed.
    ///
    /// Takes every option of ``createTask(_:_:name:context:key:options:)``. A
    /// key taken by a task created in a transaction that rolled back is free
    /// again. The returned handle is for use after the commit: if the
    /// transaction rolls back, it names no task (awaiting it fails with
    /// ``/DurableEngine/DurableError/Code/unknownTask``, unless its id was given to a later task
    /// meanwhile).
    ///
    /// ```swift
    /// try await pool.write { db in
    ///     try Order(id: 42, total: 99).insert(db)
    ///     try engine.createTask(SendConfirmation.self, 42, key: "confirm:42", in: db)
    /// }
    /// ```
    ///
    /// - Parameter db: A connection to the engine's file inside a write
    ///   transaction (the `db` of `pool.write { db in … }`, on the pool given to
    ///   ``init(sharing:configuration:sqlite:logger:)``, or on another pool or queue of the same file).
    /// - Throws: the errors of ``createTask(_:_:name:context:key:options:)``, with
    ///   the transaction as it was before the call; ``/DurableEngine/DurableError/Code/invalidArgument``
    ///   when `db` is read-only, not in a transaction, or a connection to another
    ///   file, or when this engine's store is not SQLite.
    @discardableResult
    public func createTask<J: Job>(
        _ job: J.Type, _ input: J.Input, name: String? = nil, context: [String: String]? = nil,
        key: String? = nil, options: TaskOptions = TaskOptions(), in db: Database
    ) throws -> DurableTask<J.Output> {
        try createTasks(job, [TaskRequest(input, name: name, context: context, key: key, options: options)], in: db)[0]
    }

    /// Stores one task per input in the application's write transaction on `db`,
    /// with the same options: see ``createTask(_:_:name:context:key:options:in:)``.
    @discardableResult
    public func createTasks<J: Job>(
        _ job: J.Type, inputs: [J.Input], options: TaskOptions = TaskOptions(), in db: Database
    ) throws -> [DurableTask<J.Output>] {
        try createTasks(job, inputs.map { TaskRequest($0, options: options) }, in: db)
    }

    /// Stores many tasks in the application's write transaction on `db`, all
    /// or none: see ``createTask(_:_:name:context:key:options:in:)``.
    @discardableResult
    public func createTasks<J: Job>(_ job: J.Type, _ requests: [TaskRequest<J.Input>], in db: Database) throws
        -> [DurableTask<J.Output>]
    {
        guard let sqlite = store as? SQLiteStore else {
            throw DurableError(
                .invalidArgument, "creating tasks in a GRDB transaction needs an engine on SQLite; this one is on \(store.location)")
        }
        let newTasks = try newTasks(job, requests)
        let created = try sqlite.createTasks(newTasks, now: configuration.clock.now(), in: db)
        // Only a write has a commit to wait for (the store refused read-only connections).
        if created.contains(where: { !$0.existed }) {
            db.afterNextTransaction(onCommit: { _ in self.noteCommitted(created, of: newTasks) })
        }
        // The tasks exist only if the application commits: a wait reads the store
        // first, so a handle of a transaction that rolled back fails (unknownTask)
        // instead of waiting.
        return handles(to: created, unfinishedThrough: nil)
    }
}
