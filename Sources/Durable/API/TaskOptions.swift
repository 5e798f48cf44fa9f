/// How a task is scheduled, beyond its job and input.
///
/// ```swift
/// try await engine.createTask(Report.self, input, options: .init(priority: 10))
/// ```
public struct TaskOptions: Sendable, Hashable {
    /// Higher runs first among due tasks. Default 0.
    public var priority: Int

    /// Creates options.
    public init(priority: Int = 0) {
        self.priority = priority
    }
}
