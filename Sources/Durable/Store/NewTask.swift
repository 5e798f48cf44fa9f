/// A task to insert, already encoded: what `createTask` hands the store.
struct NewTask: Sendable {
    var job: String
    /// The input as JSON text.
    var input: String
    /// `nil` gives the generated name `Task-<id>`.
    var name: String?
    /// The context values as a JSON object, or `nil`.
    var context: String?
    var key: String?
    var priority: Int
    var runAt: Int64
    var deadline: Int64?
    var timeoutMilliseconds: Int64? = nil
    /// The retry policy as JSON, or `nil` for one attempt.
    var retry: String? = nil
    var parentID: TaskID?
    var detached = false
    var groupID: GroupID?
    var callbackOf: TaskID?
}

/// A task returned by `createTasks`: the stored row's id and name, and whether an
/// existing task was returned for its idempotency key.
struct CreatedTask: Sendable, Equatable {
    var id: TaskID
    var name: String
    var job: String
    var existed: Bool
}
