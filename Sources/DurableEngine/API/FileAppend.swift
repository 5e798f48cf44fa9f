/// Where a line appended exactly once (``TaskContext/appendLine(_:to:)``, the
/// ``AppendLine`` job) went in its file.
public struct FileAppend: Sendable, Hashable, Codable {
    /// The file, absolute, with symbolic links resolved.
    public var path: String
    /// The byte offset of the line.
    public var offset: Int64
    /// The length in bytes, the newline included.
    public var length: Int64

    /// Describes an append.
    public init(path: String, offset: Int64, length: Int64) {
        self.path = path
        self.offset = offset
        self.length = length
    }
}
