import DurableEngine
import GRDB
import GRDBSQLite

/// One of GRDB's cached statements driven through SQLite's C interface, for the
/// statements every task passes through (insert, claim, finish, attempt row).
///
/// GRDB's `StatementArguments` box each value and `Row` copies each result; on
/// the hot path that costs more than SQLite's own work. Here values are bound
/// and columns read in place. Everything else goes through GRDB as usual, and
/// these statements only run inside GRDB's write transactions.
///
/// ```swift
/// let statement = try BoundStatement(db, sql: "UPDATE tasks SET name = ? WHERE id = ?")
/// try statement.bind("cover", at: 1)
/// try statement.bind(id, at: 2)
/// try statement.run()
/// ```
struct BoundStatement: ~Copyable {
    private let db: Database
    private let statement: Statement
    private let handle: OpaquePointer

    /// The cached statement for `sql`, reset and with its bindings cleared.
    init(_ db: Database, sql: String) throws {
        self.db = db
        statement = try db.cachedStatement(sql: sql)
        handle = statement.sqliteStatement
        sqlite3_reset(handle)
        sqlite3_clear_bindings(handle)
    }

    deinit {
        // A statement left mid-way would keep its read cursor open.
        sqlite3_reset(handle)
    }

    // MARK: Binding (1-based, as in SQL)

    func bind(_ value: Int64?, at index: Int32) throws {
        try check(value.map { sqlite3_bind_int64(handle, index, $0) } ?? sqlite3_bind_null(handle, index))
    }

    func bind(_ value: Int?, at index: Int32) throws {
        try bind(value.map(Int64.init), at: index)
    }

    func bind(_ value: Bool, at index: Int32) throws {
        try check(sqlite3_bind_int64(handle, index, value ? 1 : 0))
    }

    /// - Throws: when SQLite refuses the value (longer than its length limit):
    ///   a value is never stored as NULL in its place.
    func bind(_ value: String?, at index: Int32) throws {
        guard let value else { return try check(sqlite3_bind_null(handle, index)) }
        var text = value
        let code = text.withUTF8 { bytes in
            // SQLITE_TRANSIENT: SQLite copies the bytes before this returns.
            sqlite3_bind_text64(
                handle, index, UnsafeRawPointer(bytes.baseAddress)?.assumingMemoryBound(to: CChar.self),
                sqlite3_uint64(bytes.count), unsafeBitCast(-1, to: sqlite3_destructor_type.self), UInt8(SQLITE_UTF8))
        }
        try check(code)
    }

    private func check(_ code: Int32) throws {
        guard code != SQLITE_OK else { return }
        throw error(code)
    }

    // MARK: Stepping

    /// Steps once: `true` when a row is ready to read, `false` when done.
    ///
    /// - Throws: GRDB's `DatabaseError`, with SQLite's code and message, as a
    ///   statement run through GRDB would.
    func step() throws -> Bool {
        switch sqlite3_step(handle) {
        case SQLITE_ROW:
            return true
        case SQLITE_DONE:
            return false
        case let code:
            throw error(code)
        }
    }

    /// GRDB's error for `code`, with SQLite's message.
    private func error(_ code: Int32) -> DatabaseError {
        let connection = db.sqliteConnection
        let extended = connection.map { sqlite3_extended_errcode($0) } ?? code
        let message = connection.flatMap { sqlite3_errmsg($0) }.map { String(cString: $0) }
        return DatabaseError(resultCode: ResultCode(rawValue: extended), message: message, sql: statement.sql)
    }

    /// Runs a statement that returns no rows.
    func run() throws {
        while try step() {}
    }

    // MARK: Reading the current row (0-based columns)

    func int64(_ column: Int32) -> Int64 {
        sqlite3_column_int64(handle, column)
    }

    func int(_ column: Int32) -> Int {
        Int(sqlite3_column_int64(handle, column))
    }

    func optionalInt64(_ column: Int32) -> Int64? {
        sqlite3_column_type(handle, column) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, column)
    }

    func bool(_ column: Int32) -> Bool {
        sqlite3_column_int64(handle, column) != 0
    }

    func string(_ column: Int32) -> String {
        optionalString(column) ?? ""
    }

    func optionalString(_ column: Int32) -> String? {
        guard let text = sqlite3_column_text(handle, column) else { return nil }
        let count = Int(sqlite3_column_bytes(handle, column))
        return String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self)
    }
}
