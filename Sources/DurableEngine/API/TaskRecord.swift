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
    /// The queue it waits in (``TaskOptions/queue``).
    public var queue: String
    /// Its concurrency key and limit (``TaskOptions/concurrencyKey``), if any.
    public var concurrencyKey: ConcurrencyKey?
    /// A pending task with a concurrency key that waits for room under it.
    public var waitsForKey: Bool

    /// Creates a value with every field given.
    package init(id: TaskID, job: String, name: String, status: TaskStatus, input: String, context: [String: String], result: String? = nil, error: StoredError? = nil, key: String? = nil, priority: Int, runAt: Int64, deadline: Int64? = nil, parentID: TaskID? = nil, groupID: GroupID? = nil, callbackOf: TaskID? = nil, owner: String? = nil, attempt: Int, leaseExpiresAt: Int64? = nil, cancelRequestedAt: Int64? = nil, cancelMessage: String? = nil, createdAt: Int64, startedAt: Int64? = nil, finishedAt: Int64? = nil, completionSequence: Int64? = nil, queue: String = TaskOptions.defaultQueue, concurrencyKey: ConcurrencyKey? = nil, waitsForKey: Bool = false) {
        self.id = id
        self.job = job
        self.name = name
        self.status = status
        self.input = input
        self.context = context
        self.result = result
        self.error = error
        self.key = key
        self.priority = priority
        self.runAt = runAt
        self.deadline = deadline
        self.parentID = parentID
        self.groupID = groupID
        self.callbackOf = callbackOf
        self.owner = owner
        self.attempt = attempt
        self.leaseExpiresAt = leaseExpiresAt
        self.cancelRequestedAt = cancelRequestedAt
        self.cancelMessage = cancelMessage
        self.createdAt = createdAt
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.completionSequence = completionSequence
        self.queue = queue
        self.concurrencyKey = concurrencyKey
        self.waitsForKey = waitsForKey
    }
}
