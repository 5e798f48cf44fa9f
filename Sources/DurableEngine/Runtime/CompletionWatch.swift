import Synchronization

/// Waits for a set of tasks to finish: receives each one's outcome once, in
/// stored completion order, whether it finished before the watch began (read
/// from the store) or while it waited (published by this process's commits or by
/// the change feed for other processes' commits).
final class CompletionWatch: Sendable {
    /// What `next()` returns.
    enum WatchEvent: Sendable {
        /// Outcomes received since the last call, in completion order.
        case outcomes([TaskOutcome])
        /// Every watched task's outcome has been returned.
        case finished
        /// `expire()` was called and nothing received is left.
        case timedOut
    }

    private struct State {
        var watched: [TaskID]
        var remaining: Set<TaskID>
        /// An open-ended watch (a task group's) never reports `.finished` by itself:
        /// more tasks may be added until it is closed.
        var openEnded: Bool
        var buffer: [TaskOutcome] = []
        /// Until the stored outcomes are read, published ones are only buffered,
        /// so that they come out merged in completion order.
        var initializing = true
        var expired = false
        /// The store's error, once this process's store failed for too long.
        var failure: DurableError?
        /// Set when watched tasks were deleted while awaited.
        var deleted: DurableError?
        var waiter: CheckedContinuation<WatchEvent, any Error>?
    }

    /// A parked waiter and what to resume it with.
    private typealias Resumption = (CheckedContinuation<WatchEvent, any Error>, Result<WatchEvent, any Error>)

    private let state: Mutex<State>
    /// Whether the watch ends when this process's store fails for too long (see
    /// `StoreHealth`): waiters outside jobs do; jobs waiting for other tasks keep
    /// waiting, as their own work is retried with the store.
    let endsOnStoreFailure: Bool

    init(ids: [TaskID], openEnded: Bool = false, endsOnStoreFailure: Bool = false) {
        var seen = Set<TaskID>()
        let unique = ids.filter { seen.insert($0).inserted }
        state = Mutex(State(watched: unique, remaining: seen, openEnded: openEnded))
        self.endsOnStoreFailure = endsOnStoreFailure
    }

    /// The distinct ids watched, in the order first given.
    var ids: [TaskID] { state.withLock { $0.watched } }

    /// Watches more tasks; returns those not watched before.
    func add(_ ids: [TaskID]) -> [TaskID] {
        state.withLock { state in
            let known = Set(state.watched)
            var added: [TaskID] = []
            for id in ids where !known.contains(id) && !added.contains(id) {
                added.append(id)
                state.remaining.insert(id)
            }
            state.watched += added
            return added
        }
    }

    /// Ends an open-ended watch: `.finished` once every watched task is returned.
    func close() {
        let resume = state.withLock { state -> Resumption? in
            state.openEnded = false
            return Self.takeEvent(&state)
        }
        if let (waiter, result) = resume { waiter.resume(with: result) }
    }

    /// Takes outcomes of watched tasks not yet received; others are ignored.
    func deliver(_ outcomes: [TaskOutcome]) {
        let resume = state.withLock { state -> (CheckedContinuation<WatchEvent, any Error>, [TaskOutcome])? in
            for outcome in outcomes where state.remaining.remove(outcome.id) != nil {
                state.buffer.append(outcome)
            }
            return Self.takeReady(&state)
        }
        if let (waiter, batch) = resume { waiter.resume(returning: .outcomes(batch)) }
    }

    /// Hands over the outcomes read from the store and starts delivering; watched
    /// tasks that no longer exist end the watch (see ``failMissing(_:)``).
    func finishInitialization(with stored: StoredOutcomes) {
        let resume = state.withLock { state -> Resumption? in
            for outcome in stored.outcomes where state.remaining.remove(outcome.id) != nil {
                state.buffer.append(outcome)
            }
            Self.noteMissing(stored.missing, in: &state)
            state.initializing = false
            return Self.takeEvent(&state)
        }
        if let (waiter, result) = resume { waiter.resume(with: result) }
    }

    /// Ends the wait: once the outcomes already received are taken, `next()`
    /// returns ``WatchEvent/timedOut``.
    func expire() {
        let resume = state.withLock { state -> Resumption? in
            state.expired = true
            return Self.takeEvent(&state)
        }
        if let (waiter, result) = resume { waiter.resume(with: result) }
    }

    /// Watched tasks that no longer exist (pruned while awaited): once the
    /// outcomes already received are taken, `next()` throws
    /// ``DurableError/Code/unknownTask`` naming them, instead of waiting forever.
    func failMissing(_ ids: [TaskID]) {
        guard !ids.isEmpty else { return }
        let resume = state.withLock { state -> Resumption? in
            Self.noteMissing(ids, in: &state)
            return Self.takeEvent(&state)
        }
        if let (waiter, result) = resume { waiter.resume(with: result) }
    }

    private static func noteMissing(_ ids: [TaskID], in state: inout State) {
        let gone = ids.filter { state.remaining.remove($0) != nil }
        guard !gone.isEmpty, state.deleted == nil else { return }
        state.deleted = DurableError(
            .unknownTask,
            "task\(gone.count == 1 ? "" : "s") \(gone.map { "\($0)" }.joined(separator: ", ")) no longer "
                + "exist\(gone.count == 1 ? "s" : ""): deleted (durable prune) while awaited")
    }

    /// Ends the wait with the store's error, once the outcomes already received
    /// are taken (only for a watch that ends on store failures).
    func failOnStoreFailure(_ error: DurableError) {
        guard endsOnStoreFailure else { return }
        let resume = state.withLock { state -> Resumption? in
            state.failure = error
            return Self.takeEvent(&state)
        }
        if let (waiter, result) = resume { waiter.resume(with: result) }
    }

    /// What `next()` returns now, if anything: an event, or the store's error
    /// when nothing else is ready.
    private static func readyResult(_ state: inout State) -> Result<WatchEvent, any Error>? {
        if !state.initializing, state.buffer.isEmpty, let deleted = state.deleted { return .failure(deleted) }
        if let event = readyEvent(&state) { return .success(event) }
        if let failure = state.failure, !state.initializing { return .failure(failure) }
        return nil
    }

    /// The event a parked waiter should get now, if any.
    private static func takeEvent(_ state: inout State) -> Resumption? {
        guard let waiter = state.waiter, let result = readyResult(&state) else { return nil }
        state.waiter = nil
        return (waiter, result)
    }

    private static func readyEvent(_ state: inout State) -> WatchEvent? {
        guard !state.initializing else { return state.expired ? .timedOut : nil }
        if !state.buffer.isEmpty { return .outcomes(takeBuffer(&state)) }
        if state.remaining.isEmpty && !state.openEnded { return .finished }
        return state.expired ? .timedOut : nil
    }

    private static func takeReady(_ state: inout State)
        -> (CheckedContinuation<WatchEvent, any Error>, [TaskOutcome])?
    {
        guard !state.initializing, !state.buffer.isEmpty, let waiter = state.waiter else { return nil }
        state.waiter = nil
        return (waiter, takeBuffer(&state))
    }

    private static func takeBuffer(_ state: inout State) -> [TaskOutcome] {
        var batch = state.buffer
        state.buffer = []
        batch.sort { $0.completionSequence < $1.completionSequence }
        return batch
    }

    /// The outcomes that arrived since the last call, in completion order; waits
    /// if there are none yet. Throws `CancellationError` when the calling task is
    /// cancelled.
    func next() async throws -> WatchEvent {
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<WatchEvent, any Error>) in
                let result = state.withLock { state -> Result<WatchEvent, any Error>? in
                    if let result = Self.readyResult(&state) { return result }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiter = continuation
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<WatchEvent, any Error>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}
