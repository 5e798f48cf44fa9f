/// A checkpoint stored inside a task: a step's result or failure, or a durable
/// sleep's wake-up time, at the position it was called at.
struct StoredStep: Sendable, Equatable {
    enum Kind: String, Sendable {
        case step
        case sleep
    }

    var position: Int
    var name: String
    var kind: Kind
    /// `.succeeded` or `.failed`.
    var status: TaskStatus
    /// JSON: the step's value, or the sleep's wake-up time.
    var result: String?
    var error: StoredError?
}
