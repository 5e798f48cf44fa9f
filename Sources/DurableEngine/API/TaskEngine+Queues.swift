// Queues: their limits, pause and counts, stored in the database and read by
// every claim, so that a change holds at once for every worker on it.
extension TaskEngine {
    /// The queues, by name: every queue a task was ever created in and every
    /// queue given settings, with their settings and counts.
    public func queues() async throws -> [QueueRecord] {
        try await queueStore("list queues").queues(named: nil)
    }

    /// The queue named `name` (`nil` when no task was created in it and it has no settings).
    public func queue(named name: String) async throws -> QueueRecord? {
        try await queueStore("read a queue").queues(named: name).first
    }

    /// Sets a queue's limits, for every worker on the database, from now on:
    /// `nil` removes a limit. Its pause stays as it is.
    ///
    /// ```swift
    /// // At most 3 emails at once anywhere, 1 per worker process, 10 a minute.
    /// try await engine.configureQueue(
    ///     "emails", concurrency: 3, workerConcurrency: 1, rateLimit: RateLimit(10, per: .seconds(60)))
    /// ```
    ///
    /// - Parameters:
    ///   - name: The queue (created if no task named it yet).
    ///   - concurrency: The most tasks of the queue running at once across
    ///     every worker and machine.
    ///   - workerConcurrency: The most running at once in one worker process.
    ///   - rateLimit: The most starts (each attempt counts) in any window of its
    ///     period, across every worker.
    /// - Throws: ``DurableError/Code/invalidArgument`` for an empty name, a limit
    ///   below 1, or a rate's period of zero; nothing is changed then.
    @discardableResult
    public func configureQueue(
        _ name: String, concurrency: Int? = nil, workerConcurrency: Int? = nil, rateLimit: RateLimit? = nil
    ) async throws -> QueueSettings {
        try await changeQueue(name, "configure queue \"\(name)\"") { settings in
            settings.concurrency = concurrency
            settings.workerConcurrency = workerConcurrency
            settings.rateLimit = rateLimit
        }
    }

    /// Pauses a queue: none of its tasks starts until it is resumed, on any
    /// worker; running ones finish.
    @discardableResult
    public func pauseQueue(_ name: String) async throws -> QueueSettings {
        try await changeQueue(name, "pause queue \"\(name)\"") { $0.isPaused = true }
    }

    /// Resumes a paused queue.
    @discardableResult
    public func resumeQueue(_ name: String) async throws -> QueueSettings {
        try await changeQueue(name, "resume queue \"\(name)\"") { $0.isPaused = false }
    }

    private func changeQueue(
        _ name: String, _ operation: String, _ change: @escaping @Sendable (inout QueueSettings) -> Void
    ) async throws -> QueueSettings {
        try QueueLimits.checkName(name, of: "a queue")
        let settings = try await queueStore(operation).updateQueue(name, now: clock.now(), change)
        // Looser limits or a resume may let this process's worker start tasks.
        changeListeners.signal()
        currentWorker?.noteNewWork()
        return settings
    }

    /// The store, for queues; ``DurableError/Code/unsupported`` naming `operation` when it keeps none.
    func queueStore(_ operation: String) throws -> any QueueStore {
        guard let store = store as? any QueueStore else {
            throw DurableError(.unsupported, "the store at \(path) cannot \(operation)")
        }
        return store
    }
}
