/// Where the database's commit history stood at the change watcher's last look.
package struct ChangeMark: Equatable, Sendable {
    /// SQLite's `PRAGMA data_version` on the watching connection: it moves when
    /// any other connection commits.
    package var dataVersion: Int64
    /// The `commits` counter that every commit made through a ``TaskStore`` raises.
    package var commits: Int64

    /// Creates a value with every field given.
    package init(dataVersion: Int64, commits: Int64) {
        self.dataVersion = dataVersion
        self.commits = commits
    }
}

/// What one look at the database found.
package struct ChangeCheck: Sendable {
    package var mark: ChangeMark
    /// Someone other than this store committed since the previous mark (another
    /// process, the `durable` tool, a person with `sqlite3`); `false` when nothing
    /// changed or every commit since was this store's own.
    package var changedByOthers: Bool

    /// Creates a value with every field given.
    package init(mark: ChangeMark, changedByOthers: Bool) {
        self.mark = mark
        self.changedByOthers = changedByOthers
    }
}

/// The commit numbers this process's store made, so that the change watcher can
/// tell its own commits (whose effects were applied when they committed) from
/// other connections' (which must be read).
///
/// Only recent numbers are kept: a number forgotten makes the watcher read once
/// more than needed, never less.
package struct OwnCommits: Sendable {
    private var numbers: Set<Int64> = []
    private static let limit = 4096

    /// Creates an empty record.
    package init() {}

    package mutating func record(_ number: Int64) {
        numbers.insert(number)
        if numbers.count > Self.limit {
            let sorted = numbers.sorted()
            numbers = Set(sorted.suffix(Self.limit / 2))
        }
    }

    /// Whether every commit numbered in `range` was this store's; forgets the
    /// numbers below the range (the watcher has looked past them).
    package mutating func madeAll(_ range: ClosedRange<Int64>) -> Bool {
        numbers = numbers.filter { $0 >= range.lowerBound }
        return range.allSatisfy(numbers.contains)
    }
}
