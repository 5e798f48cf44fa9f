public import Foundation
public import Logging

/// What a running job knows about its task: identity, stored context values, the
/// engine, and a logger with the task's metadata.
///
/// ```swift
/// func run(_ input: Order, context: TaskContext) async throws -> Receipt {
///     context.logger.info("charging", metadata: ["tenant": "\(context.values["tenant"] ?? "-")"])
///     ...
/// }
/// ```
public struct TaskContext: Sendable {
    /// The running task.
    public let taskID: TaskID
    /// The task's stored name (as it was when this run started).
    public let name: String
    /// The job's stored name.
    public let job: String
    /// The context values stored with the task: given at creation, or a copy of
    /// the creating task's values. The same after any number of restarts.
    public let values: [String: String]
    /// Which run of the task this is, from 1.
    public let attempt: Int
    /// For a done-callback task, the task whose completion started it.
    public let completedTaskID: TaskID?
    /// The task's deadline in Unix milliseconds (its own or inherited).
    let deadlineMilliseconds: Int64?
    /// The engine running the task, to create or await other tasks.
    public let engine: TaskEngine
    let baseLogger: Logger
    /// This run's checkpoints (steps, sleeps, children).
    let journal: StepJournal

    /// The time by which the task must finish, if it has a deadline.
    public var deadline: Date? {
        deadlineMilliseconds.map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }

    /// A logger carrying `task-id`, `task-name` and `job` metadata (built when
    /// asked for, so jobs that do not log pay nothing).
    public var logger: Logger {
        var logger = baseLogger
        logger[metadataKey: "task-id"] = "\(taskID)"
        logger[metadataKey: "task-name"] = "\(name)"
        logger[metadataKey: "job"] = "\(job)"
        return logger
    }

    /// The context of the job running in the current Swift task, if any. Tasks
    /// created from inside a job without a context inherit a copy of its values.
    @TaskLocal public static var current: TaskContext?
}
