/// A snapshot of one stored task row, as the store read it.
public struct TaskRecord: Sendable, Hashable {
    public var id: TaskID
    public var job: String
    public var name: String
    public var status: TaskStatus
    /// The input as JSON text.
    public var input: String
    /// The context values given at creation (or inherited).
    public var context: [String: String]
    /// The result as JSON text, once succeeded.
    public var result: String?
    /// The stored error, once failed or cancelled.
    public var error: StoredError?
    public var key: String?
    public var priority: Int
    /// Unix milliseconds before which the task is not claimed.
    public var runAt: Int64
    public var deadline: Int64?
    public var parentID: TaskID?
    public var groupID: GroupID?
    /// For a done-callback task, the task whose completion created it.
    public var callbackOf: TaskID?
    /// The worker running the task.
    public var owner: String?
    /// How many runs have started.
    public var attempt: Int
    public var leaseExpiresAt: Int64?
    public var cancelRequestedAt: Int64?
    public var cancelMessage: String?
    public var createdAt: Int64
    public var startedAt: Int64?
    public var finishedAt: Int64?
    /// Position in the stored completion order.
    public var completionSequence: Int64?
}
