import DurableEngine
import Logging
import PostgresNIO
import Synchronization

/// The PostgreSQL ``ChangeFeed``: a connection of its own listens on channel
/// `durable_<schema>`, on which every commit that changes tasks notifies (a
/// trigger, see migrations/postgres); after a notification from another
/// session it reads what the engine's ``ChangeReader`` wants of what changed:
/// completions after a commit that finished tasks, the worker's changes after
/// one that made work or a cancel request (``PostgresChangeNotice``). A commit
/// that only claimed or renewed leases is signalled and read by nobody.
///
/// Notifications are lost while the listening connection is down: after each
/// (re)connection it reads at once, and while it listens it also reads every
/// ``PostgresConfiguration/safetyPollInterval`` — the slow safety net for a
/// notification lost in any other way. It listens while the engine has
/// subscribers, and ``PostgresConfiguration/listenLinger`` after the last one
/// leaves (a caller awaiting one task after another keeps one listening
/// connection). Completions that committed while nothing here awaited any are
/// read when a wait begins.
final class PostgresChangeFeed: ChangeFeed {
    private struct State {
        var subscribers = 0
        var task: Task<Void, Never>?
        /// Since when nothing subscribes while it still listens, and the task
        /// that stops the listening once that lasted ``PostgresConfiguration/listenLinger``.
        var idleSince: ContinuousClock.Instant?
        var lingering: Task<Void, Never>?
        var wake: AsyncStream<Void>.Continuation?
        var stopped = false
        /// What others changed since the last read began.
        var unread: PostgresChangeNotice.Kinds = .all
        /// Whether the next read for the worker looks for claimable work: not
        /// when every change since the last one that could make work was met by
        /// a claim at its notification.
        var looksForWork = true
    }

    private let store: PostgresStore
    private let reader: any ChangeReader
    private let logger: Logger
    private let state = Mutex(State())

    init(store: PostgresStore, reader: any ChangeReader, logger: Logger) {
        self.store = store
        self.reader = reader
        self.logger = logger
    }

    func subscribe() {
        state.withLock { state in
            state.subscribers += 1
            state.idleSince = nil
            guard !state.stopped else { return }
            guard state.task == nil else {
                // Still listening: what was left unread (completions nobody awaited) is read now.
                if !state.unread.isEmpty { state.wake?.yield() }
                return
            }
            let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            state.wake = wake
            state.task = Task { [self] in await watch(wakes) }
        }
    }

    func unsubscribe() {
        let linger = store.configuration.listenLinger
        state.withLock { state in
            state.subscribers -= 1
            guard state.subscribers <= 0, state.task != nil else { return }
            guard linger > .zero else { return Self.stopListening(&state) }
            state.idleSince = .now
            guard state.lingering == nil else { return }
            state.lingering = Task { [self] in await stopListening(after: linger) }
        }
    }

    /// Stops listening once nothing has subscribed for `linger`.
    private func stopListening(after linger: Duration) async {
        var wait = linger
        while true {
            try? await Task.sleep(for: wait)
            let rest = state.withLock { state -> Duration? in
                guard !Task.isCancelled, state.subscribers <= 0, let idleSince = state.idleSince else {
                    state.lingering = nil
                    return nil
                }
                let idle = idleSince.duration(to: .now)
                guard idle < linger else {
                    state.lingering = nil
                    Self.stopListening(&state)
                    return nil
                }
                return linger - idle
            }
            guard let rest else { return }
            wait = rest
        }
    }

    private static func stopListening(_ state: inout State) {
        state.idleSince = nil
        state.task?.cancel()
        state.task = nil
        state.wake?.finish()
        state.wake = nil
    }

    func readSoon() {
        markUnread(.all)?.yield()
    }

    /// Notes what changed (and whether the worker already claims because of
    /// it); returns the continuation that wakes the reading loop.
    private func markUnread(
        _ kinds: PostgresChangeNotice.Kinds, claiming: Bool = false
    ) -> AsyncStream<Void>.Continuation? {
        // Before the read it wakes: the worker's look-up of its next due time reads again.
        if kinds.contains(.timers) { store.dueTimes.laterWorkChanged() }
        return state.withLock { state in
            state.unread.formUnion(kinds)
            if kinds.contains(.work), !claiming { state.looksForWork = true }
            return state.wake
        }
    }

    func stop() {
        state.withLock { state in
            state.stopped = true
            state.lingering?.cancel()
            state.lingering = nil
            Self.stopListening(&state)
        }
    }

    // MARK: Watching

    /// While subscribed: one child task keeps a listening connection up (and wakes
    /// this loop after each notification from others and each reconnection),
    /// another wakes it every safety-poll interval; this loop reads after each
    /// wake-up (and after each `readSoon`).
    private func watch(_ wakes: AsyncStream<Void>) async {
        guard state.withLock({ $0.wake != nil }) else { return }
        let interval = store.configuration.safetyPollInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in await listen() }
            group.addTask { [self] in
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    markUnread(.all)?.yield()
                }
            }
            for await _ in wakes {
                guard !Task.isCancelled else { break }
                await readChanges()
            }
            group.cancelAll()
        }
    }

    /// Listens on the store's channel on a connection of the pool, reconnecting
    /// with growing pauses, until cancelled.
    private func listen() async {
        let channel = "durable_" + store.configuration.schema
        let ownSession = store.database.sessionName
        var pause = Duration.milliseconds(50)
        var failures = 0
        while !Task.isCancelled {
            do {
                try await store.database.client.withConnection { connection in
                    try await connection.listen(on: channel) { notifications in
                        failures = 0
                        pause = .milliseconds(50)
                        // Whatever committed while nobody listened is read now.
                        reader.changedByOthers()
                        markUnread(.all)?.yield()
                        for try await notification in notifications {
                            let change = PostgresChangeNotice(payload: notification.payload)
                            // Others' commits; this store's own were applied as they committed.
                            guard change.session != ownSession else { continue }
                            reader.changedByOthers()
                            guard !change.kinds.isEmpty else { continue }
                            // Before a claim it may start: the look-up after it must read again.
                            if change.kinds.contains(.timers) { store.dueTimes.laterWorkChanged() }
                            // A task claimable now: a worker with a free slot claims without a read first.
                            let claiming = change.kinds.contains(.claimableWork) && reader.claimableWorkCommitted()
                            markUnread(change.kinds, claiming: claiming)?.yield()
                        }
                    }
                }
            } catch {
                guard !Task.isCancelled else { return }
                failures += 1
                if failures == 1 || failures % 100 == 0 {
                    logger.warning(
                        "cannot listen for changes on \(store.location); retrying",
                        metadata: ["error": "\(PostgresErrors.detail(error))"])
                }
            }
            try? await Task.sleep(for: pause)
            pause = min(pause * 2, .seconds(5))
        }
    }

    private func readChanges() async {
        let (unread, looksForWork) = state.withLock { state in
            defer {
                state.unread = []
                state.looksForWork = false
            }
            return (state.unread, state.looksForWork)
        }
        // What could not be read is read at the next wake-up (a notification,
        // the safety poll), as well as whatever that brings.
        if unread.contains(.completions) {
            switch await readCompletions() {
            case .read: break
            case .failed: _ = markUnread(.completions)
            case .notAwaited:
                // Read when a wait begins (``subscribe()``); one that began meanwhile is woken here.
                let wake = markUnread(.completions)
                if reader.completionsWanted != nil { wake?.yield() }
            }
        }
        let timers = unread.intersection(.timers)
        if !unread.isDisjoint(with: [.work, .timers]),
            !(await readWorkerChanges(looksForWork: looksForWork, readsDeadlines: !timers.isEmpty))
        {
            _ = markUnread(timers.union(.work), claiming: !looksForWork)
        }
    }

    private enum CompletionsRead { case read, notAwaited, failed }

    private func readCompletions() async -> CompletionsRead {
        guard reader.completionsWanted != nil else { return .notAwaited }
        do {
            var gaps = false
            while let after = reader.completionsWanted {
                let page = try await store.completions(after: after, limit: 1000)
                // Numbers missing from a page belong to deleted (pruned) tasks.
                gaps = gaps || page.coveredThrough - after > Int64(page.outcomes.count)
                reader.received(page)
                if page.outcomes.count < 1000 { break }
            }
            if gaps { reader.missing(try await store.missingTasks(among: reader.awaitedTasks)) }
            return .read
        } catch {
            report(error)
            return .failed
        }
    }

    private func readWorkerChanges(looksForWork: Bool, readsDeadlines: Bool) async -> Bool {
        do {
            if var interest = reader.workerInterest {
                interest.looksForWork = interest.looksForWork && looksForWork
                interest.readsDeadlines = readsDeadlines
                reader.received(try await store.workerChanges(for: interest))
            }
            return true
        } catch {
            report(error)
            return false
        }
    }

    private func report(_ error: any Error) {
        guard !state.withLock({ $0.stopped }), !Task.isCancelled else { return }
        logger.warning("cannot read the changes made to \(store.location): \(error)")
    }
}
