/// An error that must not be retried: the task fails at once whatever its
/// ``RetryPolicy``, and a step that throws it stores the failure, so a re-run
/// fails the same way without running the step again.
///
/// ```swift
/// struct InvalidOrder: NonRetryable { var reason: String }
/// ```
public protocol NonRetryable: Error {}

/// A ready-made ``NonRetryable`` error with a message.
///
/// ```swift
/// guard order.total > 0 else { throw NonRetryableError("order \(order.id) has no items") }
/// ```
public struct NonRetryableError: NonRetryable, CustomStringConvertible, Hashable {
    /// What went wrong.
    public var message: String

    /// Creates the error.
    public init(_ message: String) {
        self.message = message
    }

    public var description: String { message }
}

extension Error {
    /// Whether a retry policy may run the task again after this error.
    var isRetryable: Bool {
        if self is any NonRetryable || self is CancellationError || self is CancelledError { return false }
        if let stored = self as? StoredError {
            return stored.kind == .failed || stored.kind == .timeout
        }
        return true
    }
}
