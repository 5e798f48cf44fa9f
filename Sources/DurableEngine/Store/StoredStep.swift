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

    /// Creates a value with every field given.
    package init(position: Int, name: String, occurrence: Int, kind: StepKind, status: TaskStatus, result: String? = nil, error: StoredError? = nil, attempt: Int) {
        self.position = position
        self.name = name
        self.occurrence = occurrence
        self.kind = kind
        self.status = status
        self.result = result
        self.error = error
        self.attempt = attempt
    }
}
