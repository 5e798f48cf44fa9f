/// A store that records appends to local files (``TaskContext/appendLine(_:to:)``),
/// so that each line is written exactly once per host and file, and a file
/// can be repaired or written again from what was recorded.
package protocol FileAppendingStore: TaskStore {
    /// Where a task's `sequence`-th append went, if it was recorded.
    func recordedAppend(of id: TaskID, sequence: Int) async throws -> FileAppend?

    /// The end of the last recorded line of the file (or its length before Durable
    /// first appended to it); `nil` when Durable never appended to it.
    func committedLength(of path: String) async throws -> Int64?

    /// Records that Durable appends to the file from now on, keeping its first
    /// `baseLength` bytes; does nothing if it is already recorded.
    func registerAppendedFile(_ path: String, baseLength: Int64, now: Int64) async throws

    /// Records an append and its bytes if the file's committed length is still
    /// `append.offset`, and clears the file's pending line; `false` (nothing
    /// recorded) if another append came first.
    func recordAppend(_ append: FileAppend, line: [UInt8], of id: TaskID, sequence: Int, now: Int64) async throws
        -> Bool

    /// The line being appended to the file, if one is.
    func pendingAppend(to path: String) async throws -> PendingAppend?

    /// Stores the line about to be written to a file (replacing any other). Not
    /// synced on its own: lost in a power cut, the leftovers of that append are
    /// refused instead of cut.
    func notePendingAppend(_ pending: PendingAppend, now: Int64) async throws

    /// The file's length before Durable first appended to it and its recorded
    /// lines; `nil` when Durable never appended to it.
    func appendedLines(of path: String) async throws -> AppendedLines?
}
