/// The stored identity of a durable task: its row id in the `tasks` table.
///
/// Ids grow with creation order and are never reused, also after tasks are pruned,
/// so an id kept by a program (or typed from `durable ls`) always names the same task.
///
/// ```swift
/// let task = try await engine.createTask(Resize.self, photo)
/// print(task.id)                                   // 42
/// let again = try await engine.task(id: 42, as: Resize.self)
/// ```
public struct TaskID: RawRepresentable, Hashable, Comparable, Sendable, Codable,
    CustomStringConvertible, ExpressibleByIntegerLiteral
{
    /// The row id.
    public var rawValue: Int64

    /// Wraps a row id.
    public init(rawValue: Int64) { self.rawValue = rawValue }

    /// Wraps a row id.
    public init(_ rawValue: Int64) { self.rawValue = rawValue }

    /// Wraps an integer literal, as in `engine.task(id: 42, as: MyJob.self)`.
    public init(integerLiteral value: Int64) { self.rawValue = value }

    public var description: String { String(rawValue) }

    public static func < (lhs: TaskID, rhs: TaskID) -> Bool { lhs.rawValue < rhs.rawValue }

    public init(from decoder: any Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(Int64.self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(rawValue)
    }
}
