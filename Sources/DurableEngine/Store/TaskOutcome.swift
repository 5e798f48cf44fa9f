/// How a finished task ended, as stored: what waiters receive.
package struct TaskOutcome: Sendable, Equatable {
    package var id: TaskID
    package var status: TaskStatus
    /// The result JSON when `status == .succeeded`.
    package var result: String?
    package var error: StoredError?
    package var cancelMessage: String?
    package var completionSequence: Int64

    /// Creates a value with every field given.
    package init(id: TaskID, status: TaskStatus, result: String? = nil, error: StoredError? = nil, cancelMessage: String? = nil, completionSequence: Int64) {
        self.id = id
        self.status = status
        self.result = result
        self.error = error
        self.cancelMessage = cancelMessage
        self.completionSequence = completionSequence
    }
}
