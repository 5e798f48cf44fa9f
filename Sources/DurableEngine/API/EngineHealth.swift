public import Foundation

/// Whether this process's worker can store its work, as ``TaskEngine/health``
/// reports it.
///
/// A worker whose commits fail (a full disk, a file that became read-only, a
/// write lock held longer than the lock timeout) keeps what it finished in memory
/// and retries, pausing longer each time: nothing is lost, and everything is
/// stored once the cause is gone. Meanwhile the engine reports it here, and after
/// ``EngineConfiguration/storeFailureTimeout`` this process's waiters are told.
///
/// ```swift
/// if case .storeFailing(let since, let error) = engine.health {
///     logger.error("tasks cannot be stored since \(since): \(error)")
/// }
/// ```
public enum EngineHealth: Sendable, Hashable, CustomStringConvertible {
    /// The worker's last commit succeeded (or no worker runs here).
    case healthy
    /// The worker's commits have failed since `since`; `error` is the last one.
    case storeFailing(since: Date, error: DurableError)

    public var description: String {
        switch self {
        case .healthy: "healthy"
        case .storeFailing(let since, let error): "store failing since \(since): \(error)"
        }
    }
}
