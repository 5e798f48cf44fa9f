// Waiting for stored outcomes: the primitive every awaiting function builds on.
extension TaskEngine {
    /// Runs `body` with a watch on `ids`: outcomes of tasks already finished come
    /// first (read from the store), then those finishing while it waits, all in
    /// stored completion order.
    /// `unfinishedThrough`: a completion number at which none of the tasks had
    /// finished (see ``CompletionHub/register(_:unfinishedThrough:)``).
    func withCompletionWatch<T>(
        _ ids: [TaskID], timeout: Duration? = nil, unfinishedThrough: Int64? = nil,
        _ body: (CompletionWatch) async throws -> T
    ) async throws -> T {
        let watch = CompletionWatch(ids: ids, endsOnStoreFailure: waitsOutsideJobs)
        let knownUnfinished = hub.register(watch, unfinishedThrough: unfinishedThrough)
        changes.subscribe()
        let timer = timeout.map { timeout in
            Task { [clock] in
                do {
                    try await clock.sleep(for: timeout)
                    watch.expire()
                } catch {}
            }
        }
        defer {
            timer?.cancel()
            hub.unregister(watch)
            changes.unsubscribe()
        }
        if knownUnfinished {
            watch.finishInitialization(with: StoredOutcomes())
        } else {
            watch.finishInitialization(with: try await store.outcomes(of: watch.ids))
        }
        return try await whileAwaiting { try await body(watch) }
    }

    /// Whether the caller waits from outside this engine's jobs: such waits end
    /// with the store's error when this process cannot store its work for longer
    /// than ``EngineConfiguration/storeFailureTimeout``; a job's waits do not.
    var waitsOutsideJobs: Bool { TaskContext.current?.engine !== self }

    /// Runs `body`, which waits for other tasks. Called from a job running here,
    /// the job gives up its slot meanwhile, so that a parent never waits for
    /// children that cannot start.
    func whileAwaiting<T>(_ body: () async throws -> T) async rethrows -> T {
        let worker = TaskContext.current?.engine === self ? currentWorker : nil
        worker?.noteAwaiting(true)
        defer { worker?.noteAwaiting(false) }
        return try await body()
    }

    /// Waits for one task's stored outcome (`unfinishedThrough`: see
    /// ``withCompletionWatch(_:timeout:unfinishedThrough:_:)``).
    func outcome(of id: TaskID, unfinishedThrough: Int64? = nil) async throws -> TaskOutcome {
        try await withCompletionWatch([id], unfinishedThrough: unfinishedThrough) { watch in
            while true {
                switch try await watch.next() {
                case .outcomes(let outcomes):
                    if let outcome = outcomes.first { return outcome }
                case .finished, .timedOut:
                    throw DurableError(.unknownTask, "task \(id) finished without a readable outcome")
                }
            }
        }
    }

    /// The stored outcome if the task is finished, without waiting.
    func storedOutcome(of id: TaskID) async throws -> TaskOutcome? {
        try await record(of: id).outcome
    }

    /// A job awaiting its own task would wait forever: asyncio raises, so do we.
    func refuseSelfAwait(_ id: TaskID) throws {
        if let current = TaskContext.current, current.taskID == id, current.engine === self {
            throw DurableError(.invalidState, "task \(id) (\(current.name)) cannot await itself")
        }
    }

    func refuseSelfAwait(_ ids: [TaskID]) throws {
        guard let current = TaskContext.current, current.engine === self else { return }
        for id in ids { try refuseSelfAwait(id) }
    }

    /// Tells this process's worker that new tasks were stored.
    func noteNewWork() {
        currentWorker?.noteNewWork()
    }

    /// Runs `operation` in a task of its own, so that it completes (and stores what
    /// it must) even when the calling task is cancelled.
    func shielded<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
        try await Task { try await operation() }.value
    }

    /// Stores cancel requests for each of `ids` not yet finished, even when the
    /// calling task is cancelled. Returns `false` (and logs) if the store failed.
    @discardableResult
    func cancelUnfinished(_ ids: [TaskID], message: String?) async -> Bool {
        do {
            try await shielded {
                for id in ids { _ = try await self.cancel(id, message: message) }
            }
            return true
        } catch {
            logger.warning("could not store the cancellation of tasks \(ids): \(error)")
            return false
        }
    }
}

extension TaskEngine {
    /// A signal each time what is stored may have changed: a commit by another
    /// process or tool, as the store's change feed notices it (within moments on
    /// SQLite, at its notification on PostgreSQL), and this engine's own
    /// creations and finished commits. Each element means "look again"; signals
    /// that come while the consumer is busy collapse into one. The store watches
    /// for changes while the sequence is iterated; it ends when the engine closes.
    ///
    /// ```swift
    /// for await _ in engine.changeSignals() {
    ///     print(try await engine.statistics().counts)
    /// }
    /// ```
    public func changeSignals() -> AsyncStream<Void> {
        changes.subscribe()
        return changeListeners.listen { [changes] in changes.unsubscribe() }
    }
}
