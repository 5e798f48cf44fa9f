/// A line on its way into a file: stored before its bytes are written, so that
/// bytes found after the file's last recorded line can be told apart: the start
/// of this line (a crash's leftovers, cut off) or anything else (refused).
struct PendingAppend: Sendable, Equatable {
    var path: String
    var offset: Int64
    /// The bytes, newline included.
    var line: [UInt8]
    var task: TaskID
}

/// What the ledger holds of one file: its length before Durable first appended to
/// it, and every recorded line in file order.
struct AppendedLines: Sendable {
    var baseLength: Int64
    /// The bytes of each line, `nil` for lines recorded before the ledger kept them.
    var lines: [(offset: Int64, line: [UInt8]?)]
}
