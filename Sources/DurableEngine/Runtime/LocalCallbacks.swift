import Synchronization

/// The in-process done callbacks (`task.onDone { }`): closures run in the order
/// they were added, once the task is finished, by whichever means this process
/// learns it. They do not survive the process; durable callbacks are jobs.
final class LocalCallbacks: Sendable {
    typealias Callback = @Sendable (TaskOutcome) async -> Void

    private let pending = Mutex<[TaskID: [Callback]]>([:])

    /// Adds a callback; the first one for a task starts the wait for its outcome.
    func add(_ callback: @escaping Callback, for id: TaskID, engine: TaskEngine) {
        let first = pending.withLock { pending -> Bool in
            if pending[id] != nil {
                pending[id]?.append(callback)
                return false
            }
            pending[id] = [callback]
            return true
        }
        guard first else { return }
        Task {
            do {
                let outcome = try await engine.outcome(of: id)
                let callbacks = pending.withLock { $0.removeValue(forKey: id) } ?? []
                for callback in callbacks { await callback(outcome) }
            } catch {
                engine.logger.warning("done callbacks of task \(id) will not run: \(error)")
                pending.withLock { $0[id] = nil }
            }
        }
    }
}
