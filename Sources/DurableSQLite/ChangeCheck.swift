/// Where the database's commit history stood at the change feed's last look.
struct ChangeMark: Equatable, Sendable {
    /// SQLite's `PRAGMA data_version` on the watching connection: it moves when
    /// any other connection commits.
    var dataVersion: Int64
    /// The `commits` counter that every commit made through a ``TaskStore`` raises.
    var commits: Int64

    /// Creates a value with every field given.
    init(dataVersion: Int64, commits: Int64) {
        self.dataVersion = dataVersion
        self.commits = commits
    }
}

/// What one look at the database found.
struct ChangeCheck: Sendable {
    var mark: ChangeMark
    /// Someone other than this store committed since the previous mark (another
    /// process, the `durable` tool, a person with `sqlite3`); `false` when nothing
    /// changed or every commit since was this store's own.
    var changedByOthers: Bool

    /// Creates a value with every field given.
    init(mark: ChangeMark, changedByOthers: Bool) {
        self.mark = mark
        self.changedByOthers = changedByOthers
    }
}

/// The commit numbers this process's store made, so that the change feed can
/// tell its own commits (whose effects were applied when they committed) from
/// other connections' (which must be read).
///
/// Only recent numbers are kept: a number forgotten makes the feed read once
/// more than needed, never less.
struct OwnCommits: Sendable {
    private var numbers: Set<Int64> = []
    private static let limit = 4096

    /// Creates an empty record.
    init() {}

    mutating func record(_ number: Int64) {
        numbers.insert(number)
        if numbers.count > Self.limit {
            let sorted = numbers.sorted()
            numbers = Set(sorted.suffix(Self.limit / 2))
        }
    }

    /// Whether every commit numbered in `range` was this store's; forgets the
    /// numbers below the range (the feed has looked past them).
    mutating func madeAll(_ range: ClosedRange<Int64>) -> Bool {
        numbers = numbers.filter { $0 >= range.lowerBound }
        return range.allSatisfy(numbers.contains)
    }
}
