import Durable

/// How `run` and `fetch` run a worker: the engine's worker, a consumer that
/// reports finished work, and a ticker, together. When the consumer has reported
/// everything, the stopper lets the worker stop; when the worker stops (all done,
/// or drained after an interrupt), the consumer is cancelled and returns what it
/// has. The ticker applies a stop requested before the worker ran, and calls
/// `tick` (for progress) every 100 ms.
enum WorkerRun {
    private enum Ending: Sendable {
        case allReported, workerStopped, consumerStopped, tickerStopped
    }

    /// Runs until the worker stopped. `consume` returns once everything is
    /// reported, and throws `CancellationError` (or anything, once cancelled)
    /// when the worker stopped first.
    static func run(
        engine: TaskEngine, stopper: RunStopper, tick: @escaping @Sendable () -> Void = {},
        consume: @escaping @Sendable () async throws -> Void
    ) async throws {
        try await withThrowingTaskGroup(of: Ending.self) { group in
            group.addTask {
                try await engine.run()
                return .workerStopped
            }
            group.addTask {
                do {
                    try await consume()
                    return .allReported
                } catch {
                    // Stopped after the worker drained: the rest is read afterwards.
                    if Task.isCancelled { return .consumerStopped }
                    throw error
                }
            }
            group.addTask {
                while !Task.isCancelled {
                    stopper.apply()
                    tick()
                    try? await Task.sleep(for: .milliseconds(100))
                }
                return .tickerStopped
            }
            while let ending = try await group.next() {
                switch ending {
                case .allReported: stopper.finish()
                case .workerStopped: group.cancelAll()
                case .consumerStopped, .tickerStopped: break
                }
            }
        }
    }
}
