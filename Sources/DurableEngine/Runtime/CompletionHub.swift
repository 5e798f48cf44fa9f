import Synchronization

/// Routes finished tasks' outcomes to the watches waiting for them, in stored
/// completion order.
///
/// Outcomes arrive from this process's commits (at once) and from the change
/// feed (for other processes' commits). While anyone watches, an outcome whose
/// completion number leaves a gap is held until the feed has read the gap, so
/// every watch sees completions in the order they were stored.
///
/// The tasks of the latest completions routed are kept (`recent`), so that a
/// watch on a task this process has just created, known unfinished at a
/// completion number from which on every completion passed through here, can
/// tell that it has not finished without reading the store
/// (``register(_:unfinishedThrough:)``).
final class CompletionHub: Sendable {
    private struct State {
        var watches: [TaskID: [CompletionWatch]] = [:]
        var watchCount = 0
        /// Completions up to this number have been routed.
        var published: Int64
        var held: [Int64: TaskOutcome] = [:]
        /// Set while this process's store has failed for too long (see `StoreHealth`).
        var storeFailure: DurableError?
        /// The tasks of the completions routed lately.
        var recent = RecentCompletions()
    }

    private let state: Mutex<State>

    /// Starts routing after completion number `sequence`.
    init(after sequence: Int64) {
        state = Mutex(State(published: sequence, recent: RecentCompletions(after: sequence)))
    }

    /// Routes the outcomes of the watch's tasks to it from now on.
    ///
    /// `unfinishedThrough`: a completion number at which none of the watch's
    /// tasks had finished (read before this process created them). Returns
    /// `true` when every completion since then passed through here and none
    /// was theirs: nothing finished before the watch, and the store need not be
    /// read for it. `false`: read the store.
    @discardableResult
    func register(_ watch: CompletionWatch, unfinishedThrough: Int64? = nil) -> Bool {
        let ids = watch.ids
        let (failure, unfinished) = state.withLock { state -> (DurableError?, Bool) in
            state.watchCount += 1
            for id in ids { state.watches[id, default: []].append(watch) }
            let unfinished = unfinishedThrough.map { state.recent.noneFinished(of: ids, after: $0) } ?? false
            return (state.storeFailure, unfinished)
        }
        if let failure { watch.failOnStoreFailure(failure) }
        return unfinished
    }

    /// This process's store has failed for too long: the watches that ask for it
    /// (waiters outside jobs) end with `error`, and so do those registered until
    /// `clearStoreFailure()`.
    func failWaiters(with error: DurableError) {
        let watches = state.withLock { state -> [CompletionWatch] in
            state.storeFailure = error
            var seen = Set<ObjectIdentifier>()
            return state.watches.values.joined().filter { seen.insert(ObjectIdentifier($0)).inserted }
        }
        for watch in watches { watch.failOnStoreFailure(error) }
    }

    /// The store works again: new watches wait as usual.
    func clearStoreFailure() {
        state.withLock { $0.storeFailure = nil }
    }

    /// Routes outcomes of more tasks to a registered watch.
    func extend(_ watch: CompletionWatch, with ids: [TaskID]) {
        state.withLock { state in
            for id in ids { state.watches[id, default: []].append(watch) }
        }
    }

    func unregister(_ watch: CompletionWatch) {
        let ids = watch.ids
        state.withLock { state in
            state.watchCount -= 1
            for id in ids {
                guard var list = state.watches[id] else { continue }
                list.removeAll { $0 === watch }
                state.watches[id] = list.isEmpty ? nil : list
            }
            if state.watchCount == 0 { state.held.removeAll() }
        }
    }

    /// The tasks that watches wait for, for the check after completions went
    /// missing (pruned) from the feed.
    var watchedTaskIDs: [TaskID] { state.withLock { Array($0.watches.keys) } }

    /// Tells the watches of `ids` that those tasks no longer exist.
    func failMissing(_ ids: [TaskID]) {
        guard !ids.isEmpty else { return }
        let watches = state.withLock { state -> [CompletionWatch] in
            var seen = Set<ObjectIdentifier>()
            return ids.flatMap { state.watches.removeValue(forKey: $0) ?? [] }
                .filter { seen.insert(ObjectIdentifier($0)).inserted }
        }
        for watch in watches { watch.failMissing(ids) }
    }

    /// Whether anyone waits for outcomes (the change feed then reads other
    /// processes' completions).
    var hasWatches: Bool { state.withLock { $0.watchCount > 0 } }

    /// The completion number up to which outcomes have been routed.
    var publishedSequence: Int64 { state.withLock { $0.published } }

    /// Routes outcomes. `coveredThrough` is given by a store read that saw every
    /// completion up to that number: any number missing below it was deleted.
    func publish(_ outcomes: [TaskOutcome], coveredThrough: Int64? = nil) {
        guard !outcomes.isEmpty || coveredThrough != nil else { return }
        let deliveries = state.withLock { state -> [(CompletionWatch, [TaskOutcome])] in
            let newest = max(outcomes.map(\.completionSequence).max() ?? 0, coveredThrough ?? 0)
            guard state.watchCount > 0 else {
                // Nobody waits: a later watch reads what it needs from the store,
                // unless these outcomes follow on from those routed before.
                var next = state.published + 1
                for outcome in outcomes.sorted(by: { $0.completionSequence < $1.completionSequence })
                where outcome.completionSequence >= next {
                    if outcome.completionSequence != next { state.recent.restart(after: outcome.completionSequence - 1) }
                    state.recent.add(outcome)
                    next = outcome.completionSequence + 1
                }
                if newest >= next { state.recent.restart(after: newest) }
                state.published = max(state.published, newest)
                return []
            }
            for outcome in outcomes where outcome.completionSequence > state.published {
                state.held[outcome.completionSequence] = outcome
            }
            var released: [TaskOutcome] = []
            while let next = state.held.removeValue(forKey: state.published + 1) {
                released.append(next)
                state.published += 1
            }
            for outcome in released { state.recent.add(outcome) }
            // Numbers skipped here were deleted from the store (a task pruned
            // before anyone here saw it finish): a task missing from `recent`
            // may be one of them.
            if let coveredThrough, coveredThrough > state.published {
                let known = state.held.keys.filter { $0 <= coveredThrough }.sorted()
                for sequence in known {
                    if let outcome = state.held.removeValue(forKey: sequence) { released.append(outcome) }
                }
                state.published = coveredThrough
                state.recent.restart(after: coveredThrough)
            }
            return Self.route(released, in: &state)
        }
        for (watch, batch) in deliveries { watch.deliver(batch) }
    }

    private static func route(_ outcomes: [TaskOutcome], in state: inout State) -> [(CompletionWatch, [TaskOutcome])] {
        var byWatch: [ObjectIdentifier: (CompletionWatch, [TaskOutcome])] = [:]
        var order: [ObjectIdentifier] = []
        for outcome in outcomes {
            guard let watches = state.watches.removeValue(forKey: outcome.id) else { continue }
            for watch in watches {
                let key = ObjectIdentifier(watch)
                if byWatch[key] == nil {
                    byWatch[key] = (watch, [])
                    order.append(key)
                }
                byWatch[key]?.1.append(outcome)
            }
        }
        return order.compactMap { byWatch[$0] }
    }
}
