/// How a finished task ended, as stored: what waiters receive.
struct TaskOutcome: Sendable, Equatable {
    var id: TaskID
    var status: TaskStatus
    /// The result JSON when `status == .succeeded`.
    var result: String?
    var error: StoredError?
    var cancelMessage: String?
    var completionSequence: Int64
}
