/// A task to insert, already encoded: what `createTask` hands the store.
package struct NewTask: Sendable {
    package var job: String
    /// The input as JSON text.
    package var input: String
    /// `nil` gives the generated name `Task-<id>`.
    package var name: String?
    /// The context values as a JSON object, or `nil`.
    package var context: String?
    package var key: String?
    package var priority: Int
    package var runAt: Int64
    package var deadline: Int64?
    package var timeoutMilliseconds: Int64? = nil
    /// The retry policy as JSON, or `nil` for one attempt.
    package var retry: String? = nil
    package var parentID: TaskID?
    package var detached: Bool = false
    package var groupID: GroupID?
    package var callbackOf: TaskID?
    /// The creator's trace context as a JSON object (see `EngineTracing`), or `nil`.
    package var traceContext: String?
    package var queue: String
    /// The concurrency key and its limit, or `nil`.
    package var concurrencyKey: String?
    package var concurrencyLimit: Int?

    /// Creates a value with every field given.
    package init(job: String, input: String, name: String? = nil, context: String? = nil, key: String? = nil, priority: Int, runAt: Int64, deadline: Int64? = nil, timeoutMilliseconds: Int64? = nil, retry: String? = nil, parentID: TaskID? = nil, detached: Bool = false, groupID: GroupID? = nil, callbackOf: TaskID? = nil, traceContext: String? = nil, queue: String = TaskOptions.defaultQueue, concurrencyKey: ConcurrencyKey? = nil) {
        self.job = job
        self.input = input
        self.name = name
        self.context = context
        self.key = key
        self.priority = priority
        self.runAt = runAt
        self.deadline = deadline
        self.timeoutMilliseconds = timeoutMilliseconds
        self.retry = retry
        self.parentID = parentID
        self.detached = detached
        self.groupID = groupID
        self.callbackOf = callbackOf
        self.traceContext = traceContext
        self.queue = queue
        self.concurrencyKey = concurrencyKey?.value
        self.concurrencyLimit = concurrencyKey?.limit
    }
}

/// A task returned by `createTasks`: the stored row's id and name, and whether an
/// existing task was returned for its idempotency key.
package struct CreatedTask: Sendable, Equatable {
    package var id: TaskID
    package var name: String
    package var job: String
    package var existed: Bool
    /// The new task waits for room under its concurrency key (it cannot be claimed yet).
    package var waitsForKey: Bool

    /// Creates a value with every field given.
    package init(id: TaskID, name: String, job: String, existed: Bool, waitsForKey: Bool = false) {
        self.id = id
        self.name = name
        self.job = job
        self.existed = existed
        self.waitsForKey = waitsForKey
    }
}
