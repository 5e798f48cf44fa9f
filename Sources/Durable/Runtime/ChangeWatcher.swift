import Foundation
import Logging
import Synchronization

/// Notices commits made by other connections to the database (other processes,
/// the `durable` tool) through the store's cheap change check, and then reads
/// what they changed: completions for the waiters in this process, and a nudge to
/// the worker (new work, cancel requests). Commits made by this process's own
/// store are skipped: their effects were applied when they committed.
///
/// It polls only while someone subscribes (a running worker, a waiting caller),
/// on a thread of its own: while nothing changed a check is one
/// `PRAGMA data_version` (a read of the shared-memory index, no I/O), so checking
/// every millisecond costs little, where a task sleeping and waking on the
/// cooperative pool for each check would cost far more. The reads that follow a
/// change run as tasks, one at a time.
///
/// States (under `state`): the thread runs while `threadRunning`; it stops when
/// it finds no subscriber or `stopped`, and `subscribe()` starts a new one if
/// none runs. A change seen while a read is in flight sets `readAgain`, so the
/// read loop runs once more instead of starting a second reader.
final class ChangeWatcher: Sendable {
    private struct State {
        var subscribers = 0
        var threadRunning = false
        var reading = false
        var readAgain = false
        var stopped = false
        var listeners: [UInt64: @Sendable () -> Void] = [:]
        var nextListener: UInt64 = 0
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
            guard !state.threadRunning, !state.stopped else { return false }
            state.threadRunning = true
            return true
        }
        if start {
            let thread = Thread { [self] in poll() }
            thread.name = "Durable.changes"
            thread.start()
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

    /// The polling thread's loop.
    private func poll() {
        var mark = try? store.checkChanges(since: nil).mark
        // Whatever was committed before the first mark was taken is read now.
        scheduleRead()
        let pause = useconds_t(max(1, interval.microseconds))
        var failures = 0
        while true {
            let keepGoing = state.withLock { state -> Bool in
                if state.subscribers > 0, !state.stopped { return true }
                state.threadRunning = false
                return false
            }
            guard keepGoing else { return }
            usleep(pause)
            do {
                let check = try store.checkChanges(since: mark)
                failures = 0
                mark = check.mark
                // This process's own commits were applied as they committed.
                if check.changedByOthers { scheduleRead() }
            } catch {
                // The store closed while this thread slept: nothing to report.
                if state.withLock({ $0.stopped }) { continue }
                failures += 1
                if failures == 1 || failures % 1000 == 0 {
                    logger.warning("cannot watch \(store.location) for changes: \(error)")
                }
            }
        }
    }

    /// Reads the changes in a task, unless a read is in flight (which then reads again).
    private func scheduleRead() {
        let start = state.withLock { state -> Bool in
            if state.reading {
                state.readAgain = true
                return false
            }
            state.reading = true
            return true
        }
        guard start else { return }
        Task {
            repeat {
                do {
                    try await readChanges()
                } catch where !state.withLock({ $0.stopped }) {
                    logger.warning("cannot read the changes made to \(store.location): \(error)")
                } catch {}
            } while state.withLock { state -> Bool in
                if state.readAgain {
                    state.readAgain = false
                    return true
                }
                state.reading = false
                return false
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

extension Duration {
    /// Whole microseconds, rounded down.
    fileprivate var microseconds: Int {
        Int(components.seconds) * 1_000_000 + Int(components.attoseconds / 1_000_000_000_000)
    }
}
