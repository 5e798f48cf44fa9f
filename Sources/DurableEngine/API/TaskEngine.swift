package import Logging
import ServiceLifecycle
import Synchronization

/// A durable task engine on a store (an SQLite file by default): the analogue of
/// asyncio's event loop, except that every task, name, context, callback and
/// result is stored.
///
/// Opening the file resumes its pending set: run a worker with ``run()`` (or
/// ``run(_:)``, the `asyncio.run(main())` analogue) and stored tasks are claimed
/// and run; the awaiting functions answer from the stored state, so results
/// computed before a crash are returned, not recomputed.
///
/// ```swift
/// let engine = try TaskEngine(path: "jobs.sqlite")
/// engine.register(Resize())
/// try await engine.run { engine in
///     let task = try await engine.createTask(Resize.self, photo, name: "cover")
///     let thumbnail = try await task.value
/// }
/// ```
///
/// Several processes may open the same file; each claims tasks with a lease, and
/// a task whose process died is taken over (at once on the same host).
public final class TaskEngine: Sendable {
    /// Where the tasks are stored: the database file, for an SQLite store.
    public let path: String
    /// How the engine stores and runs tasks.
    public let configuration: EngineConfiguration
    let logger: Logger
    package let store: any TaskStore
    let registry = JobRegistry()
    let hub: CompletionHub
    /// Commits made by others, as the store sees them.
    let changes: any ChangeFeed
    private let changeReader: EngineChangeReader
    /// Who wants to know of every change (``changeSignals()``).
    let changeListeners = ChangeSignals()
    let localCallbacks = LocalCallbacks()
    /// Concurrent ``createTasks(_:_:)`` calls share a transaction.
    let creations = GroupCommit<[NewTask], [CreatedTask]>()
    let storeHealth: StoreHealth
    /// The engine's metrics and spans; `nil` when no backend is bootstrapped or given.
    let metrics: EngineMetrics?
    let tracing: EngineTracing?
    private let activeWorker = Mutex<Worker?>(nil)

    /// Runs on `store`, opened by its own target (the SQLite store, the
    /// PostgreSQL store); `configuration` was validated by the caller
    /// (``EngineConfiguration/validate()``) before the store was opened.
    package init(store: any TaskStore, configuration: EngineConfiguration, logger: Logger) {
        self.path = store.location
        self.configuration = configuration
        self.logger = logger
        self.store = store
        hub = CompletionHub(after: store.completionSequenceAtOpen)
        changeReader = EngineChangeReader(hub: hub, signals: changeListeners)
        changes = store.makeChangeFeed(reporting: changeReader, logger: logger)
        storeHealth = StoreHealth(hub: hub, clock: configuration.clock, timeout: configuration.storeFailureTimeout)
        metrics = EngineMetrics.make(configuration.metricsFactory)
        tracing = EngineTracing.make(configuration.tracer)
    }

    var clock: any TaskClock { configuration.clock }

    /// The worker running in this process, if any.
    var currentWorker: Worker? { activeWorker.withLock { $0 } }

    /// Whether this process's worker can store its work: ``EngineHealth/storeFailing(since:error:)``
    /// from its first failed commit until one succeeds again. See
    /// ``EngineConfiguration/storeFailureTimeout`` for what waiters are told.
    public var health: EngineHealth { storeHealth.health }

    /// Makes `job` runnable by this engine's worker under `J.name`. Register every
    /// job whose tasks the database may hold before calling ``run()``.
    public func register<J: Job>(_ job: J) {
        registry.register(job)
    }

    /// The schema migrations applied to the file, oldest first.
    public func appliedMigrations() async throws -> [AppliedMigration] {
        try await inspectableStore("list its migrations").appliedMigrations()
    }

    /// The stored row of a task, for inspection.
    public func record(of id: TaskID) async throws -> TaskRecord {
        guard let record = try await store.task(id) else { throw DurableError(.unknownTask, "no task has id \(id)") }
        return record
    }

    // MARK: Creating tasks

    /// Stores a new task and returns it; it runs on whichever worker claims it.
    ///
    /// The row is committed before this returns, so the task survives any crash
    /// after that. With a `key`, creating again returns the stored task (an error
    /// if it has another job or input), which makes re-running a submitting
    /// program safe.
    ///
    /// ```swift
    /// let task = try await engine.createTask(Resize.self, photo, name: "cover", key: "resize:\(photo.id)")
    /// ```
    ///
    /// - Parameters:
    ///   - job: The job to run.
    ///   - input: Its input, stored as JSON.
    ///   - name: The task's name; `nil` gives `Task-<id>`.
    ///   - context: Values the job reads as `context.values`; `nil` copies those of
    ///     the job calling this, if any.
    ///   - key: An idempotency key; it names at most one task, whatever its job.
    ///   - options: Scheduling options.
    /// - Throws: ``DurableError/Code/keyConflict`` when `key` already names a task
    ///   of another job or with another input, and ``DurableError/Code/invalidArgument``
    ///   naming the option when one is out of range (a NaN date, a duration longer
    ///   than 10000 years, a timeout of zero); nothing is created then.
    @discardableResult
    public func createTask<J: Job>(
        _ job: J.Type, _ input: J.Input, name: String? = nil, context: [String: String]? = nil,
        key: String? = nil, options: TaskOptions = TaskOptions()
    ) async throws -> DurableTask<J.Output> {
        let tasks = try await createTasks(
            job, [TaskRequest(input, name: name, context: context, key: key, options: options)])
        return tasks[0]
    }

    /// Stores many tasks in one transaction: all or none are created.
    @discardableResult
    public func createTasks<J: Job>(_ job: J.Type, _ requests: [TaskRequest<J.Input>]) async throws
        -> [DurableTask<J.Output>]
    {
        try await createTasks(job, requests, groupID: nil)
    }

    /// Stores one task per input in one transaction, with the same options.
    @discardableResult
    public func createTasks<J: Job>(_ job: J.Type, inputs: [J.Input], options: TaskOptions = TaskOptions())
        async throws -> [DurableTask<J.Output>]
    {
        try await createTasks(job, inputs.map { TaskRequest($0, options: options) })
    }

    func createTasks<J: Job>(
        _ job: J.Type, _ requests: [TaskRequest<J.Input>], groupID: GroupID?, detached: Bool = false,
        creator explicitCreator: TaskContext? = nil
    ) async throws -> [DurableTask<J.Output>] {
        let newTasks = try newTasks(job, requests, groupID: groupID, detached: detached, creator: explicitCreator)
        // Read before the tasks exist: none of them can have finished by then.
        let unfinishedThrough = hub.publishedSequence
        let created = try await creations.submit(newTasks) { calls in await self.storeTogether(calls) }
        announce(created)
        return handles(to: created, unfinishedThrough: unfinishedThrough)
    }

    /// The rows to store for `requests`: inputs and context encoded, options
    /// checked, the creating job's context, deadline and trace inherited.
    ///
    /// - Throws: ``DurableError`` naming what cannot be encoded or is out of range.
    package func newTasks<J: Job>(
        _ job: J.Type, _ requests: [TaskRequest<J.Input>], groupID: GroupID? = nil, detached: Bool = false,
        creator explicitCreator: TaskContext? = nil
    ) throws -> [NewTask] {
        let now = clock.now()
        let current = explicitCreator ?? TaskContext.current
        let creator = current.flatMap { $0.engine === self ? $0 : nil }
        let inherited = current?.values
        let traceContext = tracing?.currentContext()
        return try requests.map { request in
            let input = try encodedInput(request.input, of: J.self)
            let options = request.options
            try QueueLimits.checkQueueing(options)
            let retry = options.retry ?? J.retryPolicy
            try retry.checkDelays(of: options.retry == nil ? "\(J.self).retryPolicy" : "TaskOptions.retry")
            let delay = try options.delay?.checkedMilliseconds(of: "TaskOptions.delay") ?? 0
            let runAt = try options.runAt?.checkedUnixMilliseconds(of: "TaskOptions.runAt")
            // A child finishes by its parent's deadline at the latest.
            let deadline = [try options.deadline?.checkedUnixMilliseconds(of: "TaskOptions.deadline"),
                creator?.deadlineMilliseconds].compactMap { $0 }.min()
            return NewTask(
                job: J.name, input: input, name: request.name,
                context: try StoredJSON.encodeContext(request.context ?? inherited ?? [:]), key: request.key,
                priority: options.priority, runAt: runAt ?? now.adding(milliseconds: delay), deadline: deadline,
                timeoutMilliseconds: try options.timeout?.checkedMilliseconds(of: "TaskOptions.timeout", positive: true),
                retry: retry.maxAttempts > 1 ? try StoredJSON.encode(retry) : nil,
                parentID: creator?.taskID, detached: detached, groupID: groupID, callbackOf: nil,
                traceContext: traceContext, queue: options.queue, concurrencyKey: options.concurrencyKey)
        }
    }

    /// Handles to tasks just stored; `unfinishedThrough` is the completion number
    /// this process had routed up to before they were (none of them finished by
    /// then), or `nil` when their first wait must read the store.
    package func handles<Output>(to created: [CreatedTask], unfinishedThrough: Int64?) -> [DurableTask<Output>] {
        created.map { DurableTask(id: $0.id, engine: self, unfinishedThrough: $0.existed ? nil : unfinishedThrough) }
    }

    /// Tells this process of tasks that a transaction outside the engine stored
    /// once it commits: its worker looks for them, its watchers and metrics hear
    /// of them.
    package func noteCommitted(_ created: [CreatedTask], of newTasks: [NewTask]) {
        announce(created)
        readDeadlinesSoon(ifAnyIn: newTasks)
        if created.contains(where: { !$0.existed }) { currentWorker?.noteNewWork() }
    }

    /// Tells this process's watchers (the dashboard) and metrics of tasks just stored.
    private func announce(_ created: [CreatedTask]) {
        changeListeners.signal()
        metrics?.created(jobs: created.lazy.filter { !$0.existed }.map(\.job))
    }

    /// Reattaches to a stored task, for instance after a restart.
    ///
    /// - Throws: ``DurableError/Code/unknownTask`` when no task has the id, and
    ///   ``DurableError/Code/jobMismatch`` when it belongs to another job.
    public func task<J: Job>(id: TaskID, as job: J.Type) async throws -> DurableTask<J.Output> {
        let record = try await record(of: id)
        guard record.job == J.name else {
            throw DurableError(.jobMismatch, "task \(id) (\(record.name)) is a \(record.job) task, not a \(J.name) task")
        }
        return DurableTask(id: id, engine: self)
    }

    // MARK: Cancelling

    /// Cancels the task with this id, whatever its job: see ``DurableTask/cancel(message:)``.
    ///
    /// - Returns: `false` when the task had already finished.
    /// - Throws: ``DurableError/Code/unknownTask`` when no task has the id.
    @discardableResult
    public func cancel(_ id: TaskID, message: String? = nil) async throws -> Bool {
        let (result, effects) = try await store.requestCancel(of: id, message: message, now: clock.now())
        apply(effects)
        return result != .alreadyFinished
    }

    /// Wakes this process's waiters for the tasks a write finished, delivers the
    /// cancel requests it stored for tasks running here, and tells the worker about
    /// tasks it created. Other processes
    /// notice both through their change feeds.
    func apply(_ effects: TransitionEffects) {
        hub.publish(effects.finished)
        changeListeners.signal()
        guard let worker = currentWorker else { return }
        if effects.createdTasks > 0 { worker.noteNewWork() }
        for request in effects.cancelRequests where request.owner == worker.id {
            worker.deliverCancel(of: request.id, message: request.message)
        }
    }

    // MARK: Running

    /// Works as a worker until cancelled or shut down gracefully: claims stored
    /// tasks and runs them, at most `maxConcurrentTasks` at once.
    ///
    /// A graceful shutdown (ServiceLifecycle) stops claiming, lets running tasks
    /// finish within `gracefulShutdownTimeout`, then cancels them and hands them
    /// back as pending; cancelling the calling task does the same without the
    /// grace period. Either way, every finished run is stored before this returns.
    public func run() async throws {
        try await run(queues: configuration.queues)
    }

    /// Works as ``run()`` does, running the tasks of `queues` only (`nil`: every
    /// queue), whatever ``EngineConfiguration/queues`` says.
    public func run(queues: [String]?) async throws {
        for queue in queues ?? [] { try QueueLimits.checkName(queue, of: "a queue given to run(queues:)") }
        try await withWorker(queues: queues) { worker in
            let loop = Task { try await worker.run() }
            try await withGracefulShutdownHandler {
                try await withTaskCancellationHandler {
                    try await loop.value
                } onCancel: {
                    worker.beginShutdown(immediately: true)
                }
            } onGracefulShutdown: {
                worker.beginShutdown(immediately: false)
            }
        }
    }

    /// Runs a worker while `body` runs, then shuts it down gracefully: the
    /// `asyncio.run(main())` analogue. Tasks still running when `body` returns
    /// get the grace period, then are handed back as pending for the next run.
    ///
    /// ```swift
    /// let total = try await engine.run { engine in
    ///     let tasks = try await engine.createTasks(Count.self, inputs: Array(1...100))
    ///     return try await engine.gather(tasks).reduce(0, +)
    /// }
    /// ```
    public func run<T: Sendable>(_ body: (TaskEngine) async throws -> T) async throws -> T {
        try await withWorker(queues: configuration.queues) { worker in
            // The worker loop is not a child of the caller, so that cancelling the
            // caller cannot interrupt its commits; it ends after draining.
            let loop = Task { try await worker.run() }
            let result: Result<T, any Error>
            do {
                result = .success(try await body(self))
            } catch {
                result = .failure(error)
            }
            worker.beginShutdown(immediately: Task.isCancelled)
            try await loop.value
            return try result.get()
        }
    }

    /// Asks this process's worker to stop: it claims no more tasks, lets running
    /// ones finish within `gracePeriod` (`nil`: as long as they take), then cancels
    /// them and hands them back as pending; ``run()`` returns once it is drained.
    /// Calling again with a shorter period (`.zero`) stops the rest at once — the
    /// second Ctrl-C of a command-line tool. A period longer than 10000 years means
    /// no limit, as `nil` does.
    ///
    /// - Returns: `false` when no worker runs in this process.
    @discardableResult
    public func beginShutdown(gracePeriod: Duration?) -> Bool {
        guard let worker = currentWorker else { return false }
        worker.beginShutdown(gracePeriod: gracePeriod.flatMap { $0 > TimeLimit.longest ? nil : $0 })
        return true
    }

    /// Closes the database: the WAL is folded into the file and the `-wal` and
    /// `-shm` files are removed (when no other process has the file open), so
    /// that the file alone holds everything. Call it when the process is done
    /// with the engine; any later use fails with an error naming the file.
    ///
    /// - Throws: ``DurableError/Code/alreadyRunning`` while a worker runs on this
    ///   engine, or an error naming the file when a connection is still in use.
    public func close() throws {
        if currentWorker != nil {
            throw DurableError(.alreadyRunning, "cannot close \(path) while its worker runs; stop the worker first")
        }
        changes.stop()
        changeListeners.finishAll()
        try store.close()
    }

    private func withWorker<T>(queues: [String]? = nil, _ body: (Worker) async throws -> T) async throws -> T {
        guard configuration.access == .readWrite else {
            throw DurableError(.readOnlyDatabase, "\(path) is open read-only: a worker cannot run on it")
        }
        let worker = Worker(engine: self, store: store, registry: registry, hub: hub, queues: queues, logger: logger)
        try activeWorker.withLock { active in
            guard active == nil else {
                throw DurableError(.alreadyRunning, "a worker is already running on this engine (\(path))")
            }
            active = worker
        }
        changeReader.attach(worker)
        changes.subscribe()
        defer {
            changeReader.detach()
            changes.unsubscribe()
            activeWorker.withLock { $0 = nil }
        }
        return try await body(worker)
    }
}
