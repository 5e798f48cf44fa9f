/// A checkpoint stored inside a task: a step's result or failure, or a durable
/// sleep's wake-up time, with the name and occurrence it is found again by.
struct StoredStep: Sendable, Equatable {
    /// Where the run that stored it asked for it, among all its checkpoints.
    var position: Int
    var name: String
    /// How many checkpoints of `name` the run asked for before this one.
    var occurrence: Int
    var kind: StepKind
    /// `.succeeded` or `.failed`.
    var status: TaskStatus
    /// JSON: the step's value, or the sleep's wake-up time.
    var result: String?
    var error: StoredError?
    /// The run (attempt) that stored it.
    var attempt: Int
}
