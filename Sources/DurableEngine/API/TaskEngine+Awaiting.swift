// The asyncio awaiting functions, answered from the stored state: tasks finished
// before a restart (or by another process) are never run again.
extension TaskEngine {
    /// Waits for a task, with a time limit: asyncio's `wait_for`.
    ///
    /// When the time runs out, the task is cancelled and this throws
    /// ``TimeoutError`` only once the cancellation is stored. If the task ignores
    /// the cancellation and returns, its value is returned; if it fails, its error
    /// is thrown. With a timeout of zero or less, a finished task's result is
    /// returned and a pending one is cancelled without ever starting. Cancelling
    /// the caller cancels the task too, and waits for it to end.
    ///
    /// ```swift
    /// let page = try await engine.waitFor(fetch, timeout: .seconds(10))
    /// ```
    ///
    /// - Throws: ``DurableError/Code/invalidArgument`` for a timeout longer than
    ///   10000 years, before anything is cancelled.
    public func waitFor<Output>(_ task: DurableTask<Output>, timeout: Duration?) async throws -> Output {
        try timeout?.checkedMilliseconds(of: "waitFor(_:timeout:) timeout")
        try refuseSelfAwait(task.id)
        let ended: TaskOutcome?
        do {
            if let timeout, timeout <= .zero {
                ended = try await storedOutcome(of: task.id)
            } else {
                ended = try await withCompletionWatch([task.id], timeout: timeout) { watch in
                    while true {
                        switch try await watch.next() {
                        case .outcomes(let outcomes): if let outcome = outcomes.first { return outcome }
                        case .finished, .timedOut: return nil
                        }
                    }
                }
            }
        } catch is CancellationError {
            // The caller was cancelled: so is the task; wait until it has ended.
            if await cancelUnfinished([task.id], message: "the task awaiting it in waitFor was cancelled") {
                _ = try? await shielded { try await self.outcome(of: task.id) }
            }
            throw CancellationError()
        }
        if let ended { return try task.decode(ended) }

        let limit = timeout.map { "\($0)" } ?? "0"
        _ = try await shielded { try await self.cancel(task.id, message: "waitFor timed out after \(limit)") }
        let final = try await shielded { try await self.outcome(of: task.id) }
        if final.status == .cancelled {
            throw TimeoutError(taskID: task.id, message: "not finished within \(limit); the task was cancelled")
        }
        return try task.decode(final)
    }

    /// Waits for tasks until a condition, without raising for failed ones:
    /// asyncio's `wait`.
    ///
    /// Tasks already finished in the store go straight into `done`. When the
    /// timeout passes, this returns what is done so far; the pending tasks are not
    /// cancelled and keep running durably, as they do if the caller is cancelled.
    ///
    /// ```swift
    /// let (done, pending) = try await engine.wait(tasks, timeout: .seconds(5), returnWhen: .firstCompleted)
    /// ```
    ///
    /// - Throws: ``DurableError/Code/invalidArgument`` for an empty sequence or a
    ///   timeout longer than 10000 years.
    public func wait<Output>(
        _ tasks: some Sequence<DurableTask<Output>>, timeout: Duration? = nil,
        returnWhen: ReturnWhen = .allCompleted
    ) async throws -> (done: Set<DurableTask<Output>>, pending: Set<DurableTask<Output>>) {
        try timeout?.checkedMilliseconds(of: "wait(_:timeout:returnWhen:) timeout")
        let all = Set(tasks)
        guard !all.isEmpty else { throw DurableError(.invalidArgument, "wait needs at least one task") }
        let ids = all.map(\.id)
        try refuseSelfAwait(ids)
        var doneIDs = Set<TaskID>()
        try await withCompletionWatch(ids, timeout: timeout) { watch in
            waiting: while true {
                switch try await watch.next() {
                case .finished, .timedOut:
                    break waiting
                case .outcomes(let outcomes):
                    doneIDs.formUnion(outcomes.map(\.id))
                    switch returnWhen {
                    case .firstCompleted: break waiting
                    case .firstException: if outcomes.contains(where: { $0.status == .failed }) { break waiting }
                    case .allCompleted: break
                    }
                }
            }
        }
        return (all.filter { doneIDs.contains($0.id) }, all.filter { !doneIDs.contains($0.id) })
    }

    /// Waits for every task and returns their results in argument order:
    /// asyncio's `gather`.
    ///
    /// The first failure (in stored completion order) is thrown at once; the other
    /// tasks keep running and store their results. A task listed twice runs once
    /// and its result appears twice. Cancelling the caller stores cancel requests
    /// for every unfinished task.
    ///
    /// ```swift
    /// let sizes = try await engine.gather(tasks)
    /// ```
    public func gather<Output>(_ tasks: [DurableTask<Output>]) async throws -> [Output] {
        let outcomes = try await collectOutcomes(tasks.map(\.id), stopAtFirstFailure: true)
        return try tasks.map { task in
            guard let outcome = outcomes[task.id] else { throw missingOutcome(task.id) }
            return try task.decode(outcome)
        }
    }

    /// Waits for every task, returning each one's result or error in argument
    /// order: asyncio's `gather(..., return_exceptions=True)`.
    public func gatherResults<Output>(_ tasks: [DurableTask<Output>]) async throws -> [Result<Output, any Error>] {
        let outcomes = try await collectOutcomes(tasks.map(\.id), stopAtFirstFailure: false)
        return try tasks.map { task in
            guard let outcome = outcomes[task.id] else { throw missingOutcome(task.id) }
            return Result { try task.decode(outcome) }
        }
    }

    /// Waits for tasks of different result types and returns a tuple of their
    /// results; throws the first failure.
    ///
    /// ```swift
    /// let (user, orders) = try await engine.gather(userTask, ordersTask)
    /// ```
    public func gather<each Output>(_ tasks: repeat DurableTask<each Output>) async throws -> (repeat each Output) {
        var ids: [TaskID] = []
        for task in repeat each tasks { ids.append(task.id) }
        let outcomes = try await collectOutcomes(ids, stopAtFirstFailure: true)
        return (repeat try decodeOutcome(each tasks, from: outcomes))
    }

    private func decodeOutcome<Output>(_ task: DurableTask<Output>, from outcomes: [TaskID: TaskOutcome]) throws
        -> Output
    {
        guard let outcome = outcomes[task.id] else { throw missingOutcome(task.id) }
        return try task.decode(outcome)
    }

    private func missingOutcome(_ id: TaskID) -> DurableError {
        DurableError(.unknownTask, "task \(id) has no stored outcome")
    }

    /// The outcomes of all `ids`; with `stopAtFirstFailure`, throws the error of
    /// the first task to end unsuccessfully. Cancelling the caller cancels the
    /// unfinished tasks.
    private func collectOutcomes(_ ids: [TaskID], stopAtFirstFailure: Bool) async throws -> [TaskID: TaskOutcome] {
        guard !ids.isEmpty else { return [:] }
        try refuseSelfAwait(ids)
        var outcomes: [TaskID: TaskOutcome] = [:]
        outcomes.reserveCapacity(ids.count)
        do {
            try await withCompletionWatch(ids) { watch in
                while case .outcomes(let batch) = try await watch.next() {
                    for outcome in batch {
                        outcomes[outcome.id] = outcome
                        if stopAtFirstFailure, outcome.status != .succeeded {
                            _ = try DurableTask<Never?>(id: outcome.id, engine: self).decode(outcome)
                        }
                    }
                }
            }
        } catch is CancellationError {
            let unfinished = Array(Set(ids).subtracting(outcomes.keys)).sorted()
            await cancelUnfinished(unfinished, message: "the task gathering it was cancelled")
            throw CancellationError()
        }
        return outcomes
    }
}
