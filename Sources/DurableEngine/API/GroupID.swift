/// The stored identity of a task group: its row id in `task_groups`.
public struct GroupID: RawRepresentable, Hashable, Sendable, Codable, CustomStringConvertible {
    /// The row id.
    public var rawValue: Int64
    /// Wraps a row id.
    public init(rawValue: Int64) { self.rawValue = rawValue }
    public var description: String { String(rawValue) }
}
