/// A line on its way into a file: stored before its bytes are written, so that
/// bytes found after the file's last recorded line can be told apart: the start
/// of this line (a crash's leftovers, cut off) or anything else (refused).
package struct PendingAppend: Sendable, Equatable {
    package var path: String
    package var offset: Int64
    /// The bytes, newline included.
    package var line: [UInt8]
    package var task: TaskID

    /// Creates a value with every field given.
    package init(path: String, offset: Int64, line: [UInt8], task: TaskID) {
        self.path = path
        self.offset = offset
        self.line = line
        self.task = task
    }
}

/// What the ledger holds of one file: its length before Durable first appended to
/// it, and every recorded line in file order.
package struct AppendedLines: Sendable {
    package var baseLength: Int64
    /// The bytes of each line, `nil` for lines recorded before the ledger kept them.
    package var lines: [(offset: Int64, line: [UInt8]?)]

    /// Creates a value with every field given.
    package init(baseLength: Int64, lines: [(offset: Int64, line: [UInt8]?)]) {
        self.baseLength = baseLength
        self.lines = lines
    }
}
