public import Foundation

// Durable execution inside a job: steps, durable sleeps and child tasks.
extension TaskContext {
    /// Runs `body` once and stores its result: when the job runs again after a
    /// crash, a finished step returns the stored result without running `body`.
    ///
    /// ```swift
    /// let page = try await context.step("fetch") { try await http.get(url) }
    /// let rows = try await context.step("parse") { try parse(page) }
    /// try await context.step("write") { try await db.insert(rows) }
    /// ```
    ///
    /// Steps are found again by their name and how many steps of that name the run
    /// asked for before (the first `fetch`, the second `fetch`, ...), never by the
    /// order in which they are asked for: steps run concurrently (`async let`, task
    /// groups) line up on every re-run, whichever starts first, if their names are
    /// distinct. A step that throws a ``NonRetryable`` error stores the failure and
    /// throws it again on every re-run; other errors are not stored (the next
    /// attempt runs the step again). A step runs at least once: if the process dies
    /// after `body` but before the result is stored, it runs again.
    ///
    /// - Throws: ``NonDeterministicReplay`` when an earlier run stored a durable
    ///   sleep under this name and occurrence. (A run that returns without asking
    ///   for a stored step, while it asked for a new one, fails with it too, when
    ///   the job returns: see ``NonDeterministicReplay/Reason/pathChanged``.)
    public func step<T: Codable & Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        switch try await journal.begin(name, kind: .step) {
        case .replay(let stored):
            guard stored.status == .succeeded else {
                // A stored failure was NonRetryable when thrown: so is its replay.
                throw journal.replayingFailure(
                    stored.error ?? StoredError(kind: .failed, type: "unknown", message: "step \(name) failed"))
            }
            do {
                return try StoredJSON.decode(T.self, from: stored.result ?? "null")
            } catch {
                throw DurableError(
                    .coding,
                    "the stored result of step \"\(name)\" of task \(taskID) does not decode as "
                        + "\(String(reflecting: T.self)): \(error)")
            }
        case .new(let checkpoint):
            let value: T
            do {
                value = try await observed(checkpoint, body)
            } catch let error as any NonRetryable {
                try await journal.record(checkpoint, status: .failed, result: nil, error: StoredError(failure: error))
                throw error
            }
            let json: String
            do {
                json = try StoredJSON.encode(value)
            } catch {
                throw NonRetryableError("the result of step \"\(name)\" of task \(taskID) cannot be encoded: \(error)")
            }
            try await journal.record(checkpoint, status: .succeeded, result: json, error: nil)
            return value
        }
    }

    /// A step that returns nothing: `body` runs once, and a re-run after it was
    /// stored skips it (its stored result is JSON `null`); see the step that returns a value.
    ///
    /// ```swift
    /// try await context.step("write") { try await warehouse.insert(rows) }
    /// ```
    public func step(_ name: String, _ body: () async throws -> Void) async throws {
        let _: Bool? = try await step(name) { () async throws -> Bool? in
            try await body()
            return nil
        }
    }

    /// Sleeps durably: the wake-up time is stored, so a job that crashes in the
    /// middle of the sleep does not start it over. A sleep longer than
    /// `sleepSuspendThreshold` frees the task's slot: the task is handed back as
    /// pending until then, and re-runs (replaying its steps) when it is due.
    ///
    /// ```swift
    /// try await context.step("send reminder") { try await mail.send(reminder) }
    /// try await context.sleep(for: .seconds(86_400))
    /// try await context.step("send follow-up") { try await mail.send(followUp) }
    /// ```
    public func sleep(for duration: Duration, name: String = "sleep") async throws {
        let milliseconds = try duration.checkedMilliseconds(of: "sleep(for:)")
        try await sleep(name: name) { $0.adding(milliseconds: milliseconds) }
    }

    /// Sleeps durably until `date`; see ``sleep(for:name:)``.
    public func sleep(until date: Date, name: String = "sleep") async throws {
        let wake = try date.checkedUnixMilliseconds(of: "sleep(until:)")
        try await sleep(name: name) { _ in wake }
    }

    private func sleep(name: String, wakeTime: (Int64) -> Int64) async throws {
        let clock = engine.clock
        let wake: Int64
        switch try await journal.begin(name, kind: .sleep) {
        case .replay(let stored):
            wake = Int64(stored.result ?? "") ?? clock.now()
        case .new(let checkpoint):
            wake = wakeTime(clock.now())
            try await journal.record(checkpoint, status: .succeeded, result: "\(wake)", error: nil)
        }
        let remaining = wake.adding(milliseconds: -clock.now())
        guard remaining > 0 else { return }
        if remaining <= engine.configuration.sleepSuspendThreshold.milliseconds {
            try await clock.sleep(for: .milliseconds(remaining))
        } else {
            throw Suspension(until: wake)
        }
    }

    /// Creates a child task. Its identity comes from this task, the job, the name
    /// and how many such children came before in the run, so a re-run of this job
    /// re-attaches to the children it already created instead of creating them
    /// again. The child inherits a copy of this task's context values (unless
    /// `context` is given) and its deadline; cancelling this task cancels the
    /// child too, unless it is `detached`.
    ///
    /// ```swift
    /// let parts = try await withThrowingTaskGroup { ... }   // or:
    /// let children = try await urls.asyncMap { try await context.createTask(Fetch.self, $0) }
    /// let pages = try await context.gather(children)
    /// ```
    @discardableResult
    public func createTask<J: Job>(
        _ job: J.Type, _ input: J.Input, name: String? = nil, context values: [String: String]? = nil,
        options: TaskOptions = TaskOptions(), detached: Bool = false
    ) async throws -> DurableTask<J.Output> {
        let identity = "\(J.name)/\(name ?? "")"
        let key = "child-of-\(taskID)/\(identity)#\(journal.nextOccurrence(identity))"
        let tasks = try await engine.createTasks(
            job, [TaskRequest(input, name: name, context: values ?? self.values, key: key, options: options)],
            groupID: nil, detached: detached, creator: self)
        return tasks[0]
    }

    /// Runs a task group owned by this task; a re-run of the job re-enters it and
    /// re-attaches to its children. See ``TaskEngine/withTaskGroup(name:key:_:)``.
    public func withTaskGroup<T: Sendable>(
        name: String, _ body: @escaping @Sendable (DurableTaskGroup) async throws -> T
    ) async throws -> T {
        let identity = "group/\(name)"
        let key = "group-of-\(taskID)/\(name)#\(journal.nextOccurrence(identity))"
        return try await engine.withTaskGroup(name: name, key: key, body)
    }

    /// Waits for tasks and returns their results in order; see ``TaskEngine/gather(_:)->[Output]``.
    public func gather<Output>(_ tasks: [DurableTask<Output>]) async throws -> [Output] {
        try await engine.gather(tasks)
    }

    /// Waits for tasks, returning each result or error; see ``TaskEngine/gatherResults(_:)``.
    public func gatherResults<Output>(_ tasks: [DurableTask<Output>]) async throws -> [Result<Output, any Error>] {
        try await engine.gatherResults(tasks)
    }

    /// Waits for tasks until a condition; see ``TaskEngine/wait(_:timeout:returnWhen:)``.
    public func wait<Output>(
        _ tasks: some Sequence<DurableTask<Output>>, timeout: Duration? = nil, returnWhen: ReturnWhen = .allCompleted
    ) async throws -> (done: Set<DurableTask<Output>>, pending: Set<DurableTask<Output>>) {
        try await engine.wait(tasks, timeout: timeout, returnWhen: returnWhen)
    }

    /// The tasks in stored completion order; see ``TaskEngine/asCompleted(_:timeout:)``.
    public func asCompleted<Output>(_ tasks: [DurableTask<Output>], timeout: Duration? = nil)
        -> AsCompletedSequence<Output>
    {
        engine.asCompleted(tasks, timeout: timeout)
    }

    /// Runs a new step's `body` in its span (`step <name>`) and reports its
    /// duration, when the engine has a tracer and metrics.
    private func observed<T>(_ checkpoint: StepJournal.NewCheckpoint, _ body: () async throws -> T) async throws -> T {
        let metrics = engine.metrics
        let started = metrics == nil ? nil : ContinuousClock.now
        var succeeded = false
        defer {
            if let metrics, let started { metrics.step(job: job, succeeded: succeeded, took: ContinuousClock.now - started) }
        }
        let value =
            if let tracing = engine.tracing {
                try await tracing.step(checkpoint.name, occurrence: checkpoint.occurrence, of: taskID, body)
            } else {
                try await body()
            }
        succeeded = true
        return value
    }
}
