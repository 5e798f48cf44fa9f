/// A task a worker claimed: `running`, owned by the worker, fenced by `attempt`.
package struct ClaimedTask: Sendable {
    package var id: TaskID
    package var job: String
    package var name: String
    package var input: String
    /// The stored context JSON; decoded (and refused if bad) when the task starts.
    package var context: String?
    package var attempt: Int
    package var startedAt: Int64
    package var parentID: TaskID?
    package var groupID: GroupID?
    package var callbackOf: TaskID?
    package var deadline: Int64?
    package var timeoutMilliseconds: Int64?
    /// The stored retry policy JSON, or `nil` for one attempt.
    package var retry: String?
    /// Failed attempts before this one.
    package var failures: Int
    /// When the task was due (`run_at`): the queue wait is `startedAt - runAt`.
    package var runAt: Int64
    /// The creator's trace context as stored (see `EngineTracing`), or `nil`.
    package var traceContext: String?
    package var queue: String

    /// Creates a value with every field given.
    package init(id: TaskID, job: String, name: String, input: String, context: String? = nil, attempt: Int, startedAt: Int64, parentID: TaskID? = nil, groupID: GroupID? = nil, callbackOf: TaskID? = nil, deadline: Int64? = nil, timeoutMilliseconds: Int64? = nil, retry: String? = nil, failures: Int, runAt: Int64? = nil, traceContext: String? = nil, queue: String = TaskOptions.defaultQueue) {
        self.id = id
        self.job = job
        self.name = name
        self.input = input
        self.context = context
        self.attempt = attempt
        self.startedAt = startedAt
        self.parentID = parentID
        self.groupID = groupID
        self.callbackOf = callbackOf
        self.deadline = deadline
        self.timeoutMilliseconds = timeoutMilliseconds
        self.retry = retry
        self.failures = failures
        self.runAt = runAt ?? startedAt
        self.traceContext = traceContext
        self.queue = queue
    }
}
