import Foundation

/// The time source of an engine: stored times (creation, leases, deadlines) and
/// timeouts of the awaiting functions. Tests inject ``ManualClock`` to drive
/// leases and timeouts without sleeping.
public protocol TaskClock: Sendable {
    /// The current wall-clock time in Unix milliseconds.
    func now() -> Int64
    /// Suspends for `duration` of this clock's time; throws `CancellationError`
    /// when the calling task is cancelled.
    func sleep(for duration: Duration) async throws
}

/// The real wall clock.
public struct SystemClock: TaskClock {
    /// Creates the system clock.
    public init() {}

    public func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    public func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

extension Duration {
    /// Whole milliseconds, rounded up so that a positive duration never becomes 0.
    var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let fraction = attoseconds > 0 ? (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000 : 0
        return seconds * 1000 + fraction
    }
}
