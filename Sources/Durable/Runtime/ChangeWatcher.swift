import Logging
import Synchronization

/// Notices commits made by other connections to the database (other processes,
/// the `durable` tool) through the store's cheap change token, and then reads
/// what they changed: completions for the waiters in this process, and a nudge to
/// the worker (new work, cancel requests).
///
/// It polls only while someone subscribes (a running worker, a waiting caller).
final class ChangeWatcher: Sendable {
    private struct State {
        var subscribers = 0
        var polling = false
        var listeners: [UInt64: @Sendable () -> Void] = [:]
        var nextListener: UInt64 = 0
        var stopped = false
    }

    private let store: any TaskStore
    private let hub: CompletionHub
    private let interval: Duration
    private let logger: Logger
    private let state = Mutex(State())

    init(store: any TaskStore, hub: CompletionHub, interval: Duration, logger: Logger) {
        self.store = store
        self.hub = hub
        self.interval = interval
        self.logger = logger
    }

    /// Starts polling if this is the first subscriber.
    func subscribe() {
        let start = state.withLock { state -> Bool in
            state.subscribers += 1
            guard !state.polling, !state.stopped else { return false }
            state.polling = true
            return true
        }
        if start {
            Task { await self.poll() }
        }
    }

    /// Polling stops soon after the last subscriber leaves.
    func unsubscribe() {
        state.withLock { $0.subscribers -= 1 }
    }

    /// Stops polling for good (the store is closing).
    func stop() {
        state.withLock { $0.stopped = true }
    }

    /// Calls `listener` after each change made by another connection, until removed.
    func addListener(_ listener: @escaping @Sendable () -> Void) -> UInt64 {
        state.withLock { state in
            state.nextListener += 1
            state.listeners[state.nextListener] = listener
            return state.nextListener
        }
    }

    func removeListener(_ id: UInt64) {
        _ = state.withLock { $0.listeners.removeValue(forKey: id) }
    }

    private func poll() async {
        var token = (try? await store.changeToken()) ?? 0
        // Whatever was committed before the first token was read is read now.
        try? await readChanges()
        var failures = 0
        while true {
            let keepGoing = state.withLock { state -> Bool in
                if state.subscribers > 0, !state.stopped { return true }
                state.polling = false
                return false
            }
            guard keepGoing else { return }
            try? await Task.sleep(for: interval)
            do {
                let current = try await store.changeToken()
                failures = 0
                guard current != token else { continue }
                token = current
                try await readChanges()
            } catch {
                // The store closed while this poll slept: nothing to report.
                if state.withLock({ $0.stopped }) { continue }
                failures += 1
                if failures == 1 || failures % 1000 == 0 {
                    logger.warning("cannot watch \(store.location) for changes: \(error)")
                }
            }
        }
    }

    private func readChanges() async throws {
        if hub.hasWatches {
            while true {
                let page = try await store.completions(after: hub.publishedSequence, limit: 1000)
                hub.publish(page.outcomes, coveredThrough: page.coveredThrough)
                if page.outcomes.count < 1000 { break }
            }
        }
        let listeners = state.withLock { Array($0.listeners.values) }
        for listener in listeners { listener() }
    }
}
