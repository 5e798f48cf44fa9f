// Writing results to files, exactly once.
extension TaskContext {
    /// Appends `line` and a newline to the file at `path`, exactly once for this
    /// call of this task: re-runs after a crash do not append it again, and a crash
    /// half-way through writing leaves no partial line (it is cut off before the
    /// next append; a failed write, on a full disk say, cuts it at once). Bytes the
    /// file held before Durable first appended to it are kept. Lines from
    /// concurrent tasks (and processes) never interleave. The file belongs to this
    /// database: bytes written after its last recorded line by anyone else make
    /// the append fail (not retried), and the file is left as it is.
    ///
    /// ```swift
    /// let page = try await context.step("fetch") { try await download(url) }
    /// try await context.appendLine("\(url)\t\(page.count)", to: "sizes.tsv")
    /// ```
    ///
    /// - Returns: Where the line is in the file.
    @discardableResult
    public func appendLine(_ line: String, to path: String) async throws -> FileAppend {
        try await AppendedFile.append(
            line, to: path, task: taskID, sequence: journal.nextOccurrence("append"),
            store: try engine.appendingStore("append lines to files"), clock: engine.clock)
    }
}

extension TaskEngine {
    /// Cuts a file written with ``TaskContext/appendLine(_:to:)`` back to its last
    /// recorded line, removing what an append that crashed before it was recorded
    /// left behind. Call it before reading the file while no task appends to it.
    ///
    /// Only the start of the line this database was writing is ever cut: other
    /// bytes after the last recorded line (another program's, or another
    /// database's appends to the same file) make it throw, naming the file, which
    /// is left as it is. So does a file shorter than its recorded lines.
    ///
    /// - Returns: How many bytes were removed.
    @discardableResult
    public func repairAppendedFile(at path: String) async throws -> Int64 {
        try await AppendedFile.repair(path, store: try appendingStore("repair appended files"))
    }

    /// Writes a file that was written with ``TaskContext/appendLine(_:to:)`` and
    /// then deleted again, line by line, from what the database recorded, so that
    /// appends can go on. Does nothing when the file exists or nothing was
    /// appended to it.
    ///
    /// - Returns: How many lines were written.
    /// - Throws: An error naming the file when the database cannot rebuild it: it
    ///   held bytes of its own before Durable first appended to it, or its lines
    ///   were recorded by a Durable older than schema version 5.
    @discardableResult
    public func restoreAppendedFile(at path: String) async throws -> Int {
        try await AppendedFile.restore(path, store: try appendingStore("restore appended files"))
    }

    /// Where a task's lines went, in the order it appended them.
    public func appends(of id: TaskID) async throws -> [FileAppend] {
        let store = try appendingStore("list appends")
        var appends: [FileAppend] = []
        while let next = try await store.recordedAppend(of: id, sequence: appends.count) { appends.append(next) }
        return appends
    }
}

/// A job that appends one line to a file, exactly once per task: for programs
/// that write their results to files as tasks finish. Register it with
/// `engine.register(AppendLine())`.
///
/// ```swift
/// try await engine.createTask(AppendLine.self, .init(path: "out.tsv", line: "a\t1"), key: "out:a")
/// ```
public struct AppendLine: Job {
    public static let name = "durable.append-line"

    /// The file and the line (without its newline).
    public struct Input: Codable, Sendable, Hashable {
        public var path: String
        public var line: String

        public init(path: String, line: String) {
            self.path = path
            self.line = line
        }
    }

    /// Creates the job.
    public init() {}

    public func run(_ input: Input, context: TaskContext) async throws -> FileAppend {
        try await context.appendLine(input.line, to: input.path)
    }
}
