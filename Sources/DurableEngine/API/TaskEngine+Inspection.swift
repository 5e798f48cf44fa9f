public import Foundation

// Looking at and administering what is stored: the `durable` tool's commands.
extension TaskEngine {
    /// Tasks matching `query`, newest first.
    ///
    /// - Throws: ``DurableError/Code/invalidArgument`` when `createdSince` or
    ///   `createdBefore` is NaN or more than 10000 years from 1970.
    public func tasks(matching query: TaskQuery) async throws -> [TaskRecord] {
        try query.createdSince?.checkedUnixMilliseconds(of: "TaskQuery.createdSince")
        try query.createdBefore?.checkedUnixMilliseconds(of: "TaskQuery.createdBefore")
        return try await inspectableStore("list tasks").tasks(matching: query)
    }

    /// The runs of a task, oldest first.
    public func attempts(of id: TaskID) async throws -> [AttemptRecord] {
        try await inspectableStore("list attempts").attempts(of: id)
    }

    /// The steps and durable sleeps a task stored, by position.
    public func steps(of id: TaskID) async throws -> [StepRecord] {
        try await store.steps(of: id).map {
            StepRecord(
                position: $0.position, name: $0.name, kind: $0.kind, status: $0.status, result: $0.result,
                error: $0.error, attempt: $0.attempt, startedAt: $0.startedAt, storedAt: $0.storedAt)
        }
    }

    /// The durable done callbacks of a task, in the order added.
    public func callbacks(of id: TaskID) async throws -> [CallbackRecord] {
        try await inspectableStore("list callbacks").callbacks(of: id)
    }

    /// Counts by job and status, how many tasks finished in the last minute and
    /// hour, and since when the longest-waiting due task waits.
    public func statistics() async throws -> QueueStatistics {
        let now = clock.now()
        let store = try inspectableStore("count tasks")
        var statistics = try await store.statistics(minuteAgo: now - 60_000, hourAgo: now - 3_600_000)
        statistics.oldestDueTime = try await store.oldestDueTime(now: now)
        for run in try await abandonedRuns() { statistics.abandoned[run.job, default: 0] += 1 }
        return statistics
    }

    /// What ran over the last `window` (whole minutes, the current one last):
    /// tasks finished per minute, the failures grouped by error (at most 20
    /// groups), the queue wait's percentiles over the latest 10,000 tasks that
    /// finished, and the workers that have not stopped.
    ///
    /// ```swift
    /// let report = try await engine.activity(overLast: .seconds(3600))
    /// print(report.finishedPerMinute.reduce(0, +), report.queueWait?.p95 ?? 0)
    /// ```
    public func activity(overLast window: Duration = .seconds(3600)) async throws -> ActivityReport {
        let store = try inspectableStore("report activity")
        let minute: Int64 = 60_000
        let minutes = Int(max(1, min(window.components.seconds / 60, 10_080)))
        let start = (clock.now() / minute - Int64(minutes - 1)) * minute
        let counts = try await store.finishedCounts(since: start, bucket: minute)
        return ActivityReport(
            windowStart: start, finishedPerMinute: (0..<minutes).map { counts[start + Int64($0) * minute] ?? 0 },
            failures: try await store.failureGroups(since: start, limit: 20),
            queueWait: QueueWait(waits: try await store.queueWaits(since: start, limit: 10_000)),
            workers: try await store.workerActivity())
    }

    /// The queue wait's percentiles (from due to start) over the latest 10,000
    /// tasks that finished in the last `window`, or `nil` when none did: what
    /// ``activity(overLast:)`` reports as its queue wait, read alone.
    public func queueWait(overLast window: Duration = .seconds(3600)) async throws -> QueueWait? {
        let since = clock.now() - max(60_000, window.components.seconds * 1000)
        return QueueWait(waits: try await inspectableStore("measure the queue wait").queueWaits(since: since, limit: 10_000))
    }

    /// The workers that have not stopped, oldest first, with how many tasks each
    /// holds (what ``activity(overLast:)`` reports as its workers, read alone).
    public func workers() async throws -> [WorkerActivity] {
        try await inspectableStore("list workers").workerActivity()
    }

    /// The running tasks that nobody runs any more, by id: their worker's process
    /// is gone (told at once for workers of this host), their worker was marked
    /// stopped, or their lease expired. Starting a worker on the file recovers
    /// them (see ``AbandonedRun``).
    public func abandonedRuns() async throws -> [AbandonedRun] {
        let now = clock.now()
        let identity = ProcessIdentity.current
        var dead: [String: Bool] = [:]
        return try await inspectableStore("list running tasks").runningTasks().compactMap { task in
            // One look at /proc per worker, however many tasks it holds.
            let ownerDead = task.worker.map { worker in
                if let known = dead[worker.id] { return known }
                let proven = identity.provesDead(worker)
                dead[worker.id] = proven
                return proven
            } ?? false
            return AbandonedRun(task, now: now, ownerDead: ownerDead)
        }
    }

    /// Cancels every pending task (of `job` and of `queue`, where given), in
    /// transactions of at most `batchSize`; running tasks are left alone. Returns
    /// how many were cancelled.
    ///
    /// ```swift
    /// let dropped = try await engine.cancelPendingTasks(queue: "emails", message: "campaign withdrawn")
    /// ```
    @discardableResult
    public func cancelPendingTasks(
        job: String? = nil, queue: String? = nil, message: String? = nil, batchSize: Int = 1000
    ) async throws -> Int {
        var total = 0
        while true {
            let effects = try await administrableStore("cancel pending tasks in bulk").cancelPending(
                job: job, queue: queue, limit: max(1, batchSize), message: message, now: clock.now())
            apply(effects)
            let cancelled = effects.finished.count
            total += cancelled
            if cancelled == 0 { return total }
        }
    }

    /// Runs failed or cancelled tasks again: each becomes pending with its error
    /// cleared; steps it stored successfully are kept (the re-run resumes after
    /// them), a failed step runs again. Others are left as they are.
    ///
    /// - Returns: The ids made pending.
    @discardableResult
    public func retry(_ ids: [TaskID]) async throws -> [TaskID] {
        let reset = try await administrableStore("retry tasks").retry(ids, now: clock.now())
        if !reset.isEmpty { noteNewWork() }
        return reset
    }

    /// Changes how the next attempts of tasks that have not succeeded run: their
    /// per-attempt `timeout` (`nil`: none) and their `retry` policy (`nil`: one
    /// attempt). Pending, failed and cancelled tasks take them for their next run
    /// (a failed one after ``retry(_:)``); a running one from its next attempt.
    /// Succeeded tasks are left as they are.
    ///
    /// ```swift
    /// try await engine.updateAttemptOptions(of: ids, timeout: .seconds(10), retry: .exponentialJitter(maxAttempts: 3))
    /// ```
    ///
    /// - Returns: How many tasks changed.
    /// - Throws: ``DurableError/Code/invalidArgument`` for a timeout or retry delay
    ///   out of range; nothing is changed then.
    @discardableResult
    public func updateAttemptOptions(of ids: [TaskID], timeout: Duration?, retry: RetryPolicy?) async throws -> Int {
        let timeoutMilliseconds = try timeout?.checkedMilliseconds(of: "timeout", positive: true)
        try retry?.checkDelays(of: "retry")
        let stored = try retry.flatMap { $0.maxAttempts > 1 ? try StoredJSON.encode($0) : nil }
        var changed = 0
        for start in stride(from: 0, to: ids.count, by: 1000) {
            changed += try await administrableStore("change attempt options").updateAttemptOptions(
                of: Array(ids[start..<min(start + 1000, ids.count)]), timeoutMilliseconds: timeoutMilliseconds,
                retry: stored)
        }
        return changed
    }

    /// Runs every failed task again (see ``retry(_:)``). Returns how many.
    @discardableResult
    public func retryFailedTasks(batchSize: Int = 1000) async throws -> Int {
        var total = 0
        while true {
            let ids = try await administrableStore("list failed tasks").failedTaskIDs(limit: max(1, batchSize))
            let reset = try await retry(ids)
            total += reset.count
            if ids.isEmpty || reset.isEmpty { return total }
        }
    }

    /// Deletes finished tasks (of `statuses`; all finished ones when empty) that
    /// finished before `date`, with their attempts, steps and callbacks. Works in
    /// short transactions of at most `batchSize` tasks, so workers are never locked
    /// out for long. Returns how many were deleted.
    ///
    /// - Throws: ``DurableError/Code/invalidArgument`` when `date` is NaN or more
    ///   than 10000 years from 1970.
    @discardableResult
    public func prune(
        finishedBefore date: Date, statuses: Set<TaskStatus> = [], batchSize: Int = 500
    ) async throws -> Int {
        let before = try date.checkedUnixMilliseconds(of: "prune(finishedBefore:)")
        var total = 0
        while true {
            let deleted = try await administrableStore("prune tasks").prune(finishedBefore: before, statuses: statuses, limit: max(1, batchSize))
            total += deleted
            if deleted == 0 { return total }
        }
    }
}
