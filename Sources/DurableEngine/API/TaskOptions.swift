public import Foundation

/// How a task is scheduled and limited, beyond its job and input. Every field
/// is stored with the task.
///
/// ```swift
/// try await engine.createTask(Report.self, input, options: .init(
///     priority: 10, delay: .seconds(30), timeout: .seconds(60),
///     retry: .exponentialJitter(maxAttempts: 3)))
/// ```
public struct TaskOptions: Sendable, Hashable {
    /// Higher runs first among due tasks. Default 0.
    public var priority: Int
    /// Not started before this much time after creation (zero or less: due at
    /// once); at most 10000 years.
    public var delay: Duration?
    /// Not started before this time (wins over `delay`); within 10000 years of 1970.
    public var runAt: Date?
    /// The longest one attempt may run; then it is cancelled and ends with a
    /// ``TimeoutError`` (retried if the retry policy allows). More than zero, at
    /// most 10000 years.
    public var timeout: Duration?
    /// The time by which the task must be finished, across attempts and restarts:
    /// then it is cancelled (or, not yet started, never starts) and fails with a
    /// ``TimeoutError``. Child tasks inherit their parent's deadline. Within 10000
    /// years of 1970 (`Date.distantFuture` is fine).
    public var deadline: Date?
    /// Overrides the job's ``Job/retryPolicy``.
    public var retry: RetryPolicy?
    /// The queue the task waits in: a worker runs the tasks of the queues it is
    /// given (``EngineConfiguration/queues``, all by default), within each
    /// queue's limits (``TaskEngine/configureQueue(_:concurrency:workerConcurrency:rateLimit:)``).
    /// Not empty. Default ``TaskOptions/defaultQueue``.
    public var queue: String
    /// Limits how many tasks with the same key run at once, across every
    /// worker: `ConcurrencyKey("customer-42")` runs them one at a time, in claim
    /// order, while tasks of other keys go on.
    public var concurrencyKey: ConcurrencyKey?

    /// The queue of tasks that name none: `"default"`.
    public static let defaultQueue = "default"

    /// Creates options. Out-of-range values (a NaN date, a duration longer than
    /// 10000 years) are refused with ``DurableError/Code/invalidArgument``, naming
    /// the option, when a task is created with them.
    public init(
        priority: Int = 0, delay: Duration? = nil, runAt: Date? = nil, timeout: Duration? = nil,
        deadline: Date? = nil, retry: RetryPolicy? = nil, queue: String = TaskOptions.defaultQueue,
        concurrencyKey: ConcurrencyKey? = nil
    ) {
        self.priority = priority
        self.delay = delay
        self.runAt = runAt
        self.timeout = timeout
        self.deadline = deadline
        self.retry = retry
        self.queue = queue
        self.concurrencyKey = concurrencyKey
    }
}
