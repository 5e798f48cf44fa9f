/// What ends the body of a task group first.
private enum GroupEvent<T: Sendable>: Sendable {
    case bodyFinished(Result<T, any Error>)
    case childFailed
    case monitorEnded
}

extension TaskEngine {
    /// Runs `body` with a stored task group, and returns once every child task has
    /// finished: asyncio's `TaskGroup`.
    ///
    /// When a child fails, the group is stored as shutting down and its unfinished
    /// siblings are cancelled in the same transaction; the body is cancelled at its
    /// current await, and ``TaskGroupError`` is thrown with every child error once
    /// all children have ended. If the body throws, the children are cancelled and
    /// its error is thrown inside a ``TaskGroupError``. If the caller is cancelled,
    /// the children are cancelled and `CancellationError` is thrown after they end.
    ///
    /// With a `key`, a re-run of the program re-enters the stored group: children
    /// it already created are returned, not created again, and children finished
    /// before a restart are answered from the store.
    ///
    /// ```swift
    /// let sizes = try await engine.withTaskGroup(name: "thumbnails", key: "album-7") { group in
    ///     let tasks = try await photos.asyncMap { try await group.createTask(Resize.self, $0) }
    ///     return try await engine.gather(tasks)
    /// }
    /// ```
    public func withTaskGroup<T: Sendable>(
        name: String? = nil, key: String? = nil, _ body: @escaping @Sendable (DurableTaskGroup) async throws -> T
    ) async throws -> T {
        let record = try await store.createGroup(name: name, key: key, now: clock.now())
        let watch = CompletionWatch(ids: [], openEnded: true)
        watch.finishInitialization(with: StoredOutcomes())
        hub.register(watch)
        changes.subscribe()
        defer {
            hub.unregister(watch)
            changes.unsubscribe()
        }
        let group = DurableTaskGroup(id: record.id, name: record.name, key: key, engine: self, watch: watch)
        try await group.track(try await store.groupTasks(record.id))

        var bodyResult: Result<T, any Error>?
        var childFailed = record.state == .shuttingDown
        if childFailed {
            group.markFinished()
        } else {
            await _Concurrency.withTaskGroup(of: GroupEvent<T>.self) { tasks in
                tasks.addTask {
                    do {
                        return .bodyFinished(.success(try await body(group)))
                    } catch {
                        return .bodyFinished(.failure(error))
                    }
                }
                tasks.addTask {
                    (try? await Self.firstFailure(in: watch)) == true ? .childFailed : .monitorEnded
                }
                while let event = await tasks.next() {
                    switch event {
                    case .childFailed:
                        childFailed = true
                        tasks.cancelAll()
                    case .bodyFinished(let result):
                        bodyResult = result
                        tasks.cancelAll()
                    case .monitorEnded:
                        break
                    }
                }
            }
        }
        let callerCancelled = Task.isCancelled
        return try await finishGroup(
            group, record: record, bodyResult: bodyResult, childFailed: childFailed, callerCancelled: callerCancelled)
    }

    /// Returns `true` at the first failed child outcome; `false` if the watch ends.
    private static func firstFailure(in watch: CompletionWatch) async throws -> Bool {
        while case .outcomes(let outcomes) = try await watch.next() {
            if outcomes.contains(where: { $0.status == .failed }) { return true }
        }
        return false
    }

    /// Cancels the children if the group is ending badly, waits for every child,
    /// marks the group finished and builds the answer from the stored outcomes.
    private func finishGroup<T>(
        _ group: DurableTaskGroup, record: GroupRecord, bodyResult: Result<T, any Error>?, childFailed: Bool,
        callerCancelled: Bool
    ) async throws -> T {
        let bodyError: (any Error)? = {
            guard case .failure(let error) = bodyResult else { return nil }
            if error.isCancellation && (childFailed || callerCancelled) { return nil }
            return error
        }()
        if bodyError != nil || callerCancelled {
            let reason = callerCancelled ? "the task owning it was cancelled" : "its body threw \(bodyError.map { "\($0)" } ?? "")"
            let effects = try await shielded {
                try await self.store.shutDownGroup(
                    record.id, message: "task group \(record.id) (\(record.name)) is shutting down: \(reason)",
                    now: self.clock.now())
            }
            apply(effects)
        }
        // Exit waits for every stored child, including any added while waiting:
        // the group is marked finished in the transaction that finds none unfinished.
        group.markFinished()
        while true {
            let unfinished = try await shielded { try await self.store.finishGroup(record.id, now: self.clock.now()) }
            if unfinished.isEmpty { break }
            _ = try await shielded { try await self.waitUntilFinished(unfinished) }
        }
        let outcomes = try await shielded {
            try await self.store.outcomes(of: try await self.store.groupTasks(record.id)).outcomes
        }

        let childErrors = outcomes.filter { $0.status == .failed }.map {
            TaskGroupError.ChildError(
                taskID: $0.id, error: $0.error ?? StoredError(kind: .failed, type: "unknown", message: "failed"))
        }
        // A body awaiting the children (gather, value) may have thrown a child's
        // error before the failure cancelled it: that error is already a child error.
        let children = Set(outcomes.map(\.id))
        let ownError = bodyError.flatMap { error -> (any Error)? in
            guard !childErrors.isEmpty else { return error }
            if let stored = error as? StoredError, childErrors.contains(where: { $0.error == stored }) { return nil }
            if let cancelled = error as? CancelledError, let id = cancelled.taskID, children.contains(id) { return nil }
            return error
        }
        if callerCancelled && childErrors.isEmpty && ownError == nil { throw CancellationError() }
        if !childErrors.isEmpty || ownError != nil {
            throw TaskGroupError(groupID: record.id, groupName: record.name, bodyError: ownError, childErrors: childErrors)
        }
        guard case .success(let value) = bodyResult else {
            throw DurableError(.invalidState, "task group \(record.id) (\(record.name)) was re-entered after it failed")
        }
        return value
    }

    /// Waits until every one of `ids` has finished.
    private func waitUntilFinished(_ ids: [TaskID]) async throws {
        try await withCompletionWatch(ids) { watch in
            while case .outcomes = try await watch.next() {}
        }
    }
}

extension Error {
    var isCancellation: Bool { self is CancellationError || self is CancelledError }
}
