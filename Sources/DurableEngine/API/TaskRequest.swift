/// One task of a batch for ``TaskEngine/createTasks(_:_:)``.
///
/// ```swift
/// let requests = urls.map { TaskRequest<Fetch.Input>($0, key: "fetch:\($0)") }
/// let tasks = try await engine.createTasks(Fetch.self, requests)
/// ```
public struct TaskRequest<Input: Codable & Sendable>: Sendable {
    /// The job's input.
    public var input: Input
    /// The task's name; `nil` gives `Task-<id>`.
    public var name: String?
    /// Context values; `nil` copies those of the job creating the task, if any.
    public var context: [String: String]?
    /// An idempotency key: a key names at most one task, whatever its job.
    /// Creating a task with a key already stored returns the stored task instead
    /// (``DurableError/Code/keyConflict`` if it has another job or input).
    public var key: String?
    /// Scheduling options.
    public var options: TaskOptions

    /// Describes one task to create.
    public init(
        _ input: Input, name: String? = nil, context: [String: String]? = nil, key: String? = nil,
        options: TaskOptions = TaskOptions()
    ) {
        self.input = input
        self.name = name
        self.context = context
        self.key = key
        self.options = options
    }
}
