import PostgresNIO

/// A statement built piece by piece: SQL text and its `$n` parameters, for the
/// statements whose shape depends on the data (many rows, optional filters).
struct PostgresStatement {
    private(set) var sql: String
    private var binds = PostgresBindings()

    init(_ sql: String = "") {
        self.sql = sql
    }

    /// Appends SQL text.
    mutating func append(_ text: String) {
        sql += text
    }

    /// Binds a value and returns its placeholder (`$n`).
    @discardableResult
    mutating func bind<Value: PostgresNonThrowingEncodable>(_ value: Value?) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// Binds an array and returns its placeholder.
    @discardableResult
    mutating func bind<Element: PostgresArrayEncodable>(array: [Element]) throws -> String {
        try binds.append(array)
        return "$\(binds.count)"
    }

    /// Binds one column of many rows (elements may be NULL) as an array and
    /// returns its placeholder: read it back with `unnest`.
    @discardableResult
    mutating func bind<Element: PostgresArrayEncodable & PostgresNonThrowingEncodable>(column: [Element?]) -> String {
        binds.append(PostgresColumnArray(column))
        return "$\(binds.count)"
    }

    /// How many values are bound.
    var count: Int { binds.count }

    var query: PostgresQuery { PostgresQuery(unsafeSQL: sql, binds: binds) }

    /// The values bound so far, in order (for a prepared ``HotStatement``).
    var bindings: PostgresBindings { binds }
}
