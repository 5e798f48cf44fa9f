/// A checkpoint stored inside a task: a step's result or failure, or a durable
/// sleep's wake-up time, with the name and occurrence it is found again by.
package struct StoredStep: Sendable, Equatable {
    /// Where the run that stored it asked for it, among all its checkpoints.
    package var position: Int
    package var name: String
    /// How many checkpoints of `name` the run asked for before this one.
    package var occurrence: Int
    package var kind: StepKind
    /// `.succeeded` or `.failed`.
    package var status: TaskStatus
    /// JSON: the step's value, or the sleep's wake-up time.
    package var result: String?
    package var error: StoredError?
    /// The run (attempt) that stored it.
    package var attempt: Int
    /// When it began: the step's body started, the sleep was asked for (`nil`
    /// for checkpoints stored before this was kept).
    package var startedAt: Int64?
    /// When it was stored (read back; ignored when recording).
    package var storedAt: Int64?

    /// Creates a value with every field given.
    package init(position: Int, name: String, occurrence: Int, kind: StepKind, status: TaskStatus, result: String? = nil, error: StoredError? = nil, attempt: Int, startedAt: Int64? = nil, storedAt: Int64? = nil) {
        self.position = position
        self.name = name
        self.occurrence = occurrence
        self.kind = kind
        self.status = status
        self.result = result
        self.error = error
        self.attempt = attempt
        self.startedAt = startedAt
        self.storedAt = storedAt
    }

    /// Equal when what the run stored is equal: `storedAt` is the store's
    /// (the time it wrote the row) and is left out.
    package static func == (lhs: StoredStep, rhs: StoredStep) -> Bool {
        lhs.position == rhs.position && lhs.name == rhs.name && lhs.occurrence == rhs.occurrence
            && lhs.kind == rhs.kind && lhs.status == rhs.status && lhs.result == rhs.result && lhs.error == rhs.error
            && lhs.attempt == rhs.attempt && lhs.startedAt == rhs.startedAt
    }
}
