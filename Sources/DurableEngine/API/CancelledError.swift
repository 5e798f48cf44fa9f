/// Thrown by a cancelled task's `result()` and `value`, and by awaiting functions
/// that were cancelled: Durable's spelling of asyncio's `CancelledError`.
///
/// It carries the message given to `cancel(message:)`, also after a restart.
public struct CancelledError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The cancelled task, when one task is meant.
    public var taskID: TaskID?
    /// The message passed to `cancel(message:)`, if any.
    public var message: String?

    /// Creates a cancellation error.
    public init(taskID: TaskID? = nil, message: String? = nil) {
        self.taskID = taskID
        self.message = message
    }

    public var description: String {
        let subject = taskID.map { "task \($0) was cancelled" } ?? "cancelled"
        return message.map { "\(subject): \($0)" } ?? subject
    }
}

extension StoredError {
    /// The error stored for a cancelled task.
    package static func cancellation(_ message: String?) -> StoredError {
        StoredError(kind: .cancelled, type: String(reflecting: CancelledError.self), message: message ?? "cancelled")
    }
}
