/// A task a worker claimed: `running`, owned by the worker, fenced by `attempt`.
struct ClaimedTask: Sendable {
    var id: TaskID
    var job: String
    var name: String
    var input: String
    /// The stored context JSON; decoded (and refused if bad) when the task starts.
    var context: String?
    var attempt: Int
    var startedAt: Int64
    var parentID: TaskID?
    var groupID: GroupID?
    var callbackOf: TaskID?
    var deadline: Int64?
    var timeoutMilliseconds: Int64?
    /// The stored retry policy JSON, or `nil` for one attempt.
    var retry: String?
    /// Failed attempts before this one.
    var failures: Int
}
