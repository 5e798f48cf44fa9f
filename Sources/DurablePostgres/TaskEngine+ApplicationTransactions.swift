public import DurableEngine
public import PostgresNIO

// An application's rows and its tasks, written in one PostgreSQL transaction.
extension TaskEngine {
    /// Stores a new task in the application's transaction open on
    /// `connection` (its own connection to the engine's database): the task
    /// exists if and only if that transaction commits. Every worker learns of it
    /// at the commit (the notification is part of the transaction).
    ///
    /// Takes every option of ``createTask(_:_:name:context:key:options:)``. A
    /// key taken by a task created in a transaction that rolled back is free
    /// again. A call that fails leaves the transaction as it was before the
    /// call (a savepoint), for the application to commit or roll back. The
    /// returned handle is for use after the commit: if the transaction rolls
    /// back, it names no task (awaiting it fails with
    /// ``/DurableEngine/DurableError/Code/unknownTask``).
    ///
    /// ```swift
    /// try await client.withTransaction(logger: logger) { connection in
    ///     try await connection.query("INSERT INTO orders (id, total) VALUES (\(42), \(99))", logger: logger)
    ///     try await engine.createTask(SendConfirmation.self, 42, key: "confirm:42", in: connection)
    /// }
    /// ```
    ///
    /// Durable's tables stay in their schema (``PostgresConfiguration/schema``);
    /// the call puts it first on the connection's search path for its own
    /// statements only.
    ///
    /// - Throws: the errors of ``createTask(_:_:name:context:key:options:)``;
    ///   ``/DurableEngine/DurableError/Code/invalidArgument`` when `connection` is not inside a
    ///   transaction or is connected to another database, or when this engine is
    ///   not on PostgreSQL.
    @discardableResult
    public func createTask<J: Job>(
        _ job: J.Type, _ input: J.Input, name: String? = nil, context: [String: String]? = nil,
        key: String? = nil, options: TaskOptions = TaskOptions(), in connection: PostgresConnection
    ) async throws -> DurableTask<J.Output> {
        try await createTasks(
            job, [TaskRequest(input, name: name, context: context, key: key, options: options)], in: connection)[0]
    }

    /// Stores one task per input in the application's transaction on
    /// `connection`, with the same options: see ``createTask(_:_:name:context:key:options:in:)``.
    @discardableResult
    public func createTasks<J: Job>(
        _ job: J.Type, inputs: [J.Input], options: TaskOptions = TaskOptions(), in connection: PostgresConnection
    ) async throws -> [DurableTask<J.Output>] {
        try await createTasks(job, inputs.map { TaskRequest($0, options: options) }, in: connection)
    }

    /// Stores many tasks in the application's transaction on `connection`, all
    /// or none: see ``createTask(_:_:name:context:key:options:in:)``.
    @discardableResult
    public func createTasks<J: Job>(
        _ job: J.Type, _ requests: [TaskRequest<J.Input>], in connection: PostgresConnection
    ) async throws -> [DurableTask<J.Output>] {
        guard let postgres = store as? PostgresStore else {
            throw DurableError(
                .invalidArgument,
                "creating tasks on a PostgreSQL connection needs an engine on PostgreSQL; this one is on \(store.location)")
        }
        let newTasks = try newTasks(job, requests)
        let created = try await postgres.createTasks(newTasks, now: configuration.clock.now(), in: connection)
        // The tasks exist only if the application commits: a wait reads the store
        // first, so a handle of a transaction that rolled back fails (unknownTask)
        // instead of waiting.
        return handles(to: created, unfinishedThrough: nil)
    }
}
