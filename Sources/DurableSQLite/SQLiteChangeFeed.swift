import DurableEngine
import Foundation
import Logging
import Synchronization

/// The SQLite store's ``ChangeFeed``: notices commits made by other connections
/// to the database (other processes, the `durable` tool) through the store's
/// cheap change check, and then reads what the engine's ``ChangeReader`` wants:
/// completions for the waiters in this process, and for the worker its cancel
/// requests, whether work is due and the earliest deadline. Commits made by this
/// process's own store are skipped: their effects were applied when they
/// committed.
///
/// It polls only while someone subscribes (a running worker, a waiting caller),
/// at the configured interval, and four times as often for a while after a
/// change by others or a new subscriber (more is likely to follow: a result
/// after a submission, the next task of a stream) — as long as the reader
/// waits briskly (a caller here waits for results or an idle worker here waits
/// for work); busy workers keep the plain interval, as the brisk checks would take CPU from them. It runs
/// on a thread of its own: while nothing changed a check is one
/// `PRAGMA data_version` (a read of the shared-memory index, no I/O), so checking
/// every millisecond costs little, where a task sleeping and waking on the
/// cooperative pool for each check would cost far more. The reads that follow a
/// change run on the same thread and connection, one after the other: no hop to
/// a reader queue and back.
///
/// States (under `state`): the thread runs while `threadRunning`; it stops when
/// it finds no subscriber or `stopped`, and `subscribe()` starts a new one if
/// none runs.
final class SQLiteChangeFeed: ChangeFeed {
    private struct State {
        var subscribers = 0
        /// Until when to check at the short interval (monotonic nanoseconds).
        var briskUntil: UInt64 = 0
        /// Read at the next check even if nothing changed (see `readSoon()`).
        var readRequested = false
        var threadRunning = false
        var stopped = false
    }

    private let store: SQLiteStore
    private let reader: any ChangeReader
    private let interval: Duration
    /// How long checks stay brisk after a change or a new subscriber.
    private static let briskPeriod: UInt64 = 100_000_000
    private let logger: Logger
    private let state = Mutex(State())
    /// Held by the polling thread while it uses the store's connection, and by
    /// `stop()` until that use ends: the store closes its connections after
    /// `stop()`, and a read on a closed GRDB connection is a crash, not an error.
    private let storeUse = NSLock()

    init(store: SQLiteStore, reader: any ChangeReader, interval: Duration, logger: Logger) {
        self.store = store
        self.reader = reader
        self.interval = interval
        self.logger = logger
    }

    package func subscribe() {
        let now = DispatchTime.now().uptimeNanoseconds
        let start = state.withLock { state -> Bool in
            state.subscribers += 1
            state.briskUntil = now + Self.briskPeriod
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

    package func unsubscribe() {
        state.withLock { $0.subscribers -= 1 }
    }

    package func stop() {
        state.withLock { $0.stopped = true }
        // Waits for a check or read in progress; none starts after this.
        storeUse.lock()
        storeUse.unlock()
    }

    /// Runs `body` with the store's connection unless the feed has stopped.
    private func usingStore(_ body: () -> Void) {
        storeUse.lock()
        defer { storeUse.unlock() }
        guard !state.withLock({ $0.stopped }) else { return }
        body()
    }

    package func readSoon() {
        state.withLock { $0.readRequested = true }
    }
    /// The polling thread's loop.
    private func poll() {
        var mark: ChangeMark?
        usingStore {
            mark = try? store.checkChanges(since: nil).mark
            // Whatever was committed before the first mark was taken is read now.
            readChanges()
        }
        let pause = useconds_t(clamping: max(1, interval.wholeMicroseconds))  // at most 71 minutes
        let briskPause = max(1, pause / 4)
        var failures = 0
        while true {
            let next = state.withLock { state -> (briskPeriod: Bool, forced: Bool)? in
                if state.subscribers > 0, !state.stopped {
                    defer { state.readRequested = false }
                    return (DispatchTime.now().uptimeNanoseconds < state.briskUntil, state.readRequested)
                }
                state.threadRunning = false
                return nil
            }
            guard let (briskPeriod, forced) = next else { return }
            usleep(briskPeriod && reader.waitsBriskly ? briskPause : pause)
            usingStore {
                do {
                    let check = try store.checkChanges(since: mark)
                    failures = 0
                    mark = check.mark
                    // This process's own commits were applied as they committed.
                    if check.changedByOthers {
                        let now = DispatchTime.now().uptimeNanoseconds
                        state.withLock { $0.briskUntil = now + Self.briskPeriod }
                        reader.changedByOthers()
                    }
                    if check.changedByOthers || forced { readChanges() }
                } catch {
                    failures += 1
                    if failures == 1 || failures % 1000 == 0 {
                        logger.warning("cannot watch \(store.location) for changes: \(error)")
                    }
                }
            }
        }
    }

    /// Reads what other connections changed, here on the polling thread: the
    /// completions this process waits for, then what its worker needs.
    private func readChanges() {
        do {
            var gaps = false
            while let after = reader.completionsWanted {
                let page = try store.completions(after: after, limit: 1000)
                // Numbers missing from a page belong to deleted (pruned) tasks.
                gaps = gaps || page.coveredThrough - after > Int64(page.outcomes.count)
                reader.received(page)
                if page.outcomes.count < 1000 { break }
            }
            // Rare: a pruned task someone here awaits would otherwise never come.
            if gaps { reader.missing(try store.missingTasks(among: reader.awaitedTasks)) }
        } catch {
            report(error)
        }
        do {
            if let interest = reader.workerInterest {
                reader.received(try store.workerChanges(for: interest))
            }
        } catch {
            report(error)
        }
    }

    private func report(_ error: any Error) {
        guard !state.withLock({ $0.stopped }) else { return }
        logger.warning("cannot read the changes made to \(store.location): \(error)")
    }
}
