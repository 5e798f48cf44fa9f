/// The end of one run, fenced by owner and attempt: the store applies it only if
/// the task is still running under this owner and attempt.
package struct TaskCompletion: Sendable {
    package enum Ending: Sendable {
        /// The job returned; the result as JSON.
        case succeeded(result: String)
        /// The job threw (or its input did not decode).
        case failed(StoredError)
        /// The job ended because its task was cancelled.
        case cancelled(StoredError)
        /// The run was interrupted (shutdown, lost lease): hand the task back as pending.
        case released(StoredError)
        /// The job failed and its retry policy runs it again at `runAt`.
        case retry(StoredError, runAt: Int64)
        /// The job suspended itself (a long durable sleep) until `runAt`.
        case suspended(runAt: Int64)
    }

    package var id: TaskID
    /// The task's job: not stored by the completion, but counted by the metrics.
    package var job: String
    package var owner: String
    package var attempt: Int
    package var startedAt: Int64
    package var ending: Ending
    /// When the job ended here (not stored): the run's duration for the
    /// metrics, whatever the commit then waited for.
    package var endedAt: Int64?

    /// Creates a value with every field given.
    package init(
        id: TaskID, job: String = "", owner: String, attempt: Int, startedAt: Int64, ending: Ending, endedAt: Int64? = nil
    ) {
        self.id = id
        self.job = job
        self.owner = owner
        self.attempt = attempt
        self.startedAt = startedAt
        self.ending = ending
        self.endedAt = endedAt
    }
}
