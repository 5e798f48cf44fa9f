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
