/// The tasks given to ``TaskEngine/asCompleted(_:timeout:)``, each once, in stored
/// completion order: tasks finished before the call (or before a restart) first,
/// in the order they finished, then the others as they finish.
///
/// The iterator can be left and resumed; when the timeout passes, `next()` throws
/// ``TimeoutError`` after yielding every task finished by then. A timeout longer
/// than 10000 years makes `next()` throw ``DurableError/Code/invalidArgument``.
///
/// ```swift
/// for try await task in engine.asCompleted(downloads, timeout: .seconds(60)) {
///     print(try await task.result())
/// }
/// ```
public struct AsCompletedSequence<Output: Codable & Sendable>: AsyncSequence, Sendable {
    public typealias Element = DurableTask<Output>

    let engine: TaskEngine
    let tasks: [DurableTask<Output>]
    let timeout: Duration?

    public func makeAsyncIterator() -> Iterator {
        Iterator(engine: engine, tasks: tasks, timeout: timeout)
    }

    /// Yields the tasks in completion order.
    public final class Iterator: AsyncIteratorProtocol {
        private let engine: TaskEngine
        private let tasks: [TaskID: DurableTask<Output>]
        private let ids: [TaskID]
        private let timeout: Duration?
        private var watch: CompletionWatch?
        private var timer: Task<Void, Never>?
        private var ready: [DurableTask<Output>] = []
        private var ended = false

        init(engine: TaskEngine, tasks: [DurableTask<Output>], timeout: Duration?) {
            self.engine = engine
            self.tasks = Dictionary(tasks.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            var seen = Set<TaskID>()
            self.ids = tasks.map(\.id).filter { seen.insert($0).inserted }
            self.timeout = timeout
        }

        deinit { stopWatching() }

        public func next() async throws -> DurableTask<Output>? {
            if !ready.isEmpty { return ready.removeFirst() }
            if ended || ids.isEmpty { return nil }
            let watch = try await startedWatch()
            while true {
                switch try await engine.whileAwaiting({ try await watch.next() }) {
                case .outcomes(let outcomes):
                    ready = outcomes.compactMap { tasks[$0.id] }
                    if !ready.isEmpty { return ready.removeFirst() }
                case .finished:
                    ended = true
                    stopWatching()
                    return nil
                case .timedOut:
                    ended = true
                    stopWatching()
                    throw TimeoutError(message: "asCompleted: not every task finished within \(timeout ?? .zero)")
                }
            }
        }

        private func startedWatch() async throws -> CompletionWatch {
            if let watch { return watch }
            try timeout?.checkedMilliseconds(of: "asCompleted(_:timeout:) timeout")
            try engine.refuseSelfAwait(ids)
            let watch = CompletionWatch(ids: ids, endsOnStoreFailure: engine.waitsOutsideJobs)
            engine.hub.register(watch)
            engine.changes.subscribe()
            self.watch = watch
            if let timeout {
                timer = Task { [clock = engine.clock] in
                    do {
                        try await clock.sleep(for: timeout)
                        watch.expire()
                    } catch {}
                }
            }
            watch.finishInitialization(with: try await engine.store.outcomes(of: ids))
            return watch
        }

        private func stopWatching() {
            guard let watch else { return }
            timer?.cancel()
            engine.hub.unregister(watch)
            engine.changes.unsubscribe()
            self.watch = nil
        }
    }
}

extension TaskEngine {
    /// The tasks in stored completion order, as they finish: asyncio's
    /// `as_completed`. A task listed twice is yielded once.
    public func asCompleted<Output>(_ tasks: [DurableTask<Output>], timeout: Duration? = nil)
        -> AsCompletedSequence<Output>
    {
        AsCompletedSequence(engine: self, tasks: tasks, timeout: timeout)
    }
}
