/// Code that durable tasks run: the analogue of an asyncio coroutine function.
///
/// A stored task names its job by ``name``; after a restart the engine finds the
/// code again by that name, so register every job a database's tasks may name
/// before running a worker on it. Inputs and outputs are stored as JSON.
///
/// ```swift
/// struct Resize: Job {
///     static let name = "resize"
///     func run(_ input: Photo, context: TaskContext) async throws -> Thumbnail {
///         try await makeThumbnail(of: input)
///     }
/// }
/// engine.register(Resize())
/// ```
///
/// A job runs at least once per task: after a crash, a task that was running runs
/// again, so make its side effects idempotent or keep them in steps.
public protocol Job: Sendable {
    /// What a task of this job is created with.
    associatedtype Input: Codable & Sendable
    /// What a task of this job returns.
    associatedtype Output: Codable & Sendable

    /// The stored name of the job. Defaults to the type's name; set it explicitly
    /// to keep stored tasks runnable after renaming the type.
    static var name: String { get }

    /// How tasks of this job are retried after an error, unless a task's options
    /// say otherwise. Defaults to ``RetryPolicy/none``.
    static var retryPolicy: RetryPolicy { get }

    /// Runs one task. Swift task cancellation means the task was cancelled (or the
    /// worker is shutting down and will hand the task back).
    func run(_ input: Input, context: TaskContext) async throws -> Output
}

extension Job {
    public static var name: String { String(describing: Self.self) }
    public static var retryPolicy: RetryPolicy { .none }
}
