import DurableEngine
import GRDB

/// An `INSERT` of many rows per statement: SQLite's per-statement work (VDBE
/// set-up, reset, AUTOINCREMENT's `sqlite_sequence` update) is then shared by
/// `chunk` rows instead of paid per row. Full chunks go through one statement,
/// the rest one row at a time, so only two statements are ever prepared.
///
/// ```swift
/// let insert = MultiRowInsert("INSERT INTO pairs (a, b)", columns: 2)
/// try insert.run(pairs, in: db) { statement, pair, base in
///     try statement.bind(pair.a, at: base + 1)
///     try statement.bind(pair.b, at: base + 2)
/// }
/// ```
struct MultiRowInsert: Sendable {
    static let chunk = 32
    private let columns: Int
    private let one: String
    private let many: String

    /// `head` is the statement up to `VALUES`, with its column list.
    init(_ head: String, columns: Int) {
        self.columns = columns
        let values = "(" + Array(repeating: "?", count: columns).joined(separator: ", ") + ")"
        one = "\(head) VALUES \(values)"
        many = "\(head) VALUES " + Array(repeating: values, count: Self.chunk).joined(separator: ", ")
    }

    /// Inserts `rows` in order; `bind` binds one row's values at `base + 1 ...`.
    func run<Row>(
        _ rows: some Collection<Row>, in db: Database,
        bind: (borrowing BoundStatement, Row, _ base: Int32) throws -> Void
    ) throws {
        var rest = rows[...]
        while !rest.isEmpty {
            let count = rest.count >= Self.chunk ? Self.chunk : 1
            let statement = try BoundStatement(db, sql: count == 1 ? one : many)
            for (offset, row) in rest.prefix(count).enumerated() {
                try bind(statement, row, Int32(offset * columns))
            }
            try statement.run()
            rest = rest.dropFirst(count)
        }
    }
}
