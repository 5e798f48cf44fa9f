/// The stored status of a task, spelled as in the `tasks.status` column.
///
/// A task waiting for a retry, a delay or a durable sleep is ``pending`` with a
/// later `run_at`. ``succeeded``, ``failed`` and ``cancelled`` are terminal: a task
/// reaches exactly one of them, once.
public enum TaskStatus: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// Stored and waiting to be claimed by a worker.
    case pending
    /// Claimed by a worker that holds a lease on it.
    case running
    /// Finished with a stored result.
    case succeeded
    /// Finished with a stored error.
    case failed
    /// Cancelled, before or while it ran.
    case cancelled

    /// Whether the task has finished (asyncio's `done()`).
    public var isTerminal: Bool {
        switch self {
        case .pending, .running: false
        case .succeeded, .failed, .cancelled: true
        }
    }

    public var description: String { rawValue }
}
