/// Thrown by ``TaskEngine/withTaskGroup(name:key:_:)`` when a child task failed or
/// the body threw: every child error (cancellations excluded), rebuilt from the
/// store, and the body's error.
///
/// ```swift
/// do {
///     try await engine.withTaskGroup(name: "import") { group in ... }
/// } catch let error as TaskGroupError {
///     for child in error.childErrors { print(child.taskID, child.error.message) }
/// }
/// ```
public struct TaskGroupError: Error, Sendable, CustomStringConvertible {
    /// A failed child task and its stored error.
    public struct ChildError: Sendable, Hashable {
        public var taskID: TaskID
        public var error: StoredError
    }

    /// The group.
    public var groupID: GroupID
    /// The group's stored name.
    public var groupName: String
    /// What the body threw, if it threw something other than the cancellation
    /// caused by a child failure.
    public var bodyError: (any Error)?
    /// The failed children, in stored completion order.
    public var childErrors: [ChildError]

    /// Every error: the body's first, then the children's.
    public var errors: [any Error] {
        (bodyError.map { [$0] } ?? []) + childErrors.map(\.error)
    }

    public var description: String {
        var parts = childErrors.map { "task \($0.taskID): \($0.error)" }
        if let bodyError { parts.insert("body: \(bodyError)", at: 0) }
        return "task group \(groupID) (\(groupName)) failed with \(parts.count) error(s): "
            + parts.joined(separator: "; ")
    }
}
