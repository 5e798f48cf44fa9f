/// The end of one run, fenced by owner and attempt: the store applies it only if
/// the task is still running under this owner and attempt.
struct TaskCompletion: Sendable {
    enum Ending: Sendable {
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

    var id: TaskID
    var owner: String
    var attempt: Int
    var startedAt: Int64
    var ending: Ending
}
