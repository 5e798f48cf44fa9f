/// Thrown when a timeout passes: by `waitFor(_:timeout:)` after the awaited task's
/// cancellation is stored, and by `asCompleted(_:timeout:)` when its time runs out.
public struct TimeoutError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The task that did not finish in time, when one task is meant.
    public var taskID: TaskID?
    /// Which limit passed.
    public var message: String

    /// Creates a timeout error.
    public init(taskID: TaskID? = nil, message: String) {
        self.taskID = taskID
        self.message = message
    }

    public var description: String {
        taskID.map { "task \($0): \(message)" } ?? message
    }
}

extension StoredError {
    /// The error stored for a task stopped by a timeout: `message` says which.
    package static func timeout(_ message: String) -> StoredError {
        StoredError(kind: .timeout, type: String(reflecting: TimeoutError.self), message: message)
    }

    /// The error stored for a task whose deadline passed, running or not.
    package static let deadlinePassed = timeout("the deadline passed before the task finished")
}
