import DurableEngine
import Logging
import PostgresNIO
import Synchronization

/// The PostgreSQL ``ChangeFeed``: a connection of its own listens on channel
/// `durable_<schema>`, on which every commit that changes tasks notifies (a
/// trigger, see migrations/postgres); after each notification from another
/// session it reads what the engine's ``ChangeReader`` wants.
///
/// Notifications are lost while the listening connection is down: after each
/// (re)connection it reads at once, and while it listens it also reads every
/// ``PostgresConfiguration/safetyPollInterval`` — the slow safety net for a
/// notification lost in any other way. It listens only while the engine has
/// subscribers.
final class PostgresChangeFeed: ChangeFeed {
    private struct State {
        var subscribers = 0
        var task: Task<Void, Never>?
        var wake: AsyncStream<Void>.Continuation?
        var stopped = false
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
            guard state.task == nil, !state.stopped else { return }
            let (wakes, wake) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
            state.wake = wake
            state.task = Task { [self] in await watch(wakes) }
        }
    }

    func unsubscribe() {
        state.withLock { state in
            state.subscribers -= 1
            guard state.subscribers <= 0 else { return }
            state.task?.cancel()
            state.task = nil
            state.wake?.finish()
            state.wake = nil
        }
    }

    func readSoon() {
        _ = state.withLock { $0.wake }?.yield()
    }

    func stop() {
        state.withLock { state in
            state.stopped = true
            state.task?.cancel()
            state.task = nil
            state.wake?.finish()
            state.wake = nil
        }
    }

    // MARK: Watching

    /// While subscribed: one child task keeps a listening connection up (and wakes
    /// this loop after each notification from others and each reconnection),
    /// another wakes it every safety-poll interval; this loop reads after each
    /// wake-up (and after each `readSoon`).
    private func watch(_ wakes: AsyncStream<Void>) async {
        guard let wake = state.withLock({ $0.wake }) else { return }
        let interval = store.configuration.safetyPollInterval
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [self] in await listen(waking: wake) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: interval)
                    wake.yield()
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
    private func listen(waking wake: AsyncStream<Void>.Continuation) async {
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
                        wake.yield()
                        for try await notification in notifications where notification.payload != ownSession {
                            // Others' commits; this store's own were applied as they committed.
                            reader.changedByOthers()
                            wake.yield()
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
        } catch {
            report(error)
        }
        do {
            if let interest = reader.workerInterest {
                reader.received(try await store.workerChanges(for: interest))
            }
        } catch {
            report(error)
        }
    }

    private func report(_ error: any Error) {
        guard !state.withLock({ $0.stopped }), !Task.isCancelled else { return }
        logger.warning("cannot read the changes made to \(store.location): \(error)")
    }
}
