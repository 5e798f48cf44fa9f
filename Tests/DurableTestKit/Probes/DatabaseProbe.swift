public import GRDB

/// Plain SQL on a Durable file, on a connection of its own: what a person with
/// `sqlite3` does. The tests and the torture suite read what engines and workers
/// stored through it.
public final class DatabaseProbe: Sendable {
    private let queue: DatabaseQueue

    public init(path: String, readonly: Bool = false) throws {
        var configuration = Configuration()
        configuration.label = "DatabaseProbe"
        configuration.readonly = readonly
        configuration.busyMode = .timeout(30)
        queue = try DatabaseQueue(path: path, configuration: configuration)
    }

    public func int(_ sql: String, _ arguments: StatementArguments = []) throws -> Int {
        try queue.read { db in try Int.fetchOne(db, sql: sql, arguments: arguments) ?? 0 }
    }

    public func ids(_ sql: String, _ arguments: StatementArguments = []) throws -> Set<Int64> {
        try queue.read { db in Set(try Int64.fetchAll(db, sql: sql, arguments: arguments)) }
    }

    public func rows(_ sql: String, _ arguments: StatementArguments = []) throws -> [Row] {
        try queue.read { db in try Row.fetchAll(db, sql: sql, arguments: arguments) }
    }

    public func strings(_ sql: String, _ arguments: StatementArguments = []) throws -> [String] {
        try queue.read { db in try String.fetchAll(db, sql: sql, arguments: arguments) }
    }

    public func execute(_ sql: String, _ arguments: StatementArguments = []) throws {
        try queue.writeWithoutTransaction { db in try db.execute(sql: sql, arguments: arguments) }
    }

    /// `PRAGMA integrity_check`: `["ok"]` for a sound file.
    public func integrityCheck() throws -> [String] {
        try queue.writeWithoutTransaction { db in try String.fetchAll(db, sql: "PRAGMA integrity_check") }
    }

    public func quickCheck() throws -> [String] {
        try queue.writeWithoutTransaction { db in try String.fetchAll(db, sql: "PRAGMA quick_check") }
    }

    public func close() throws { try queue.close() }

    /// The text values of `sql`'s first column, read once through a read-only
    /// connection opened for it.
    public static func read(_ path: String, _ sql: String) async throws -> [String] {
        var configuration = Configuration()
        configuration.readonly = true
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        return try await queue.read { try String.fetchAll($0, sql: sql) }
    }

    /// Everything a run stored that does not depend on timing, sorted: each
    /// top-level task's job, input, status and result; each step row (by its
    /// task's input); each child with its key relative to its parent. Two runs of
    /// the same batch, killed or not, must give the same lines.
    public func storedOutcome() throws -> [String] {
        let tasks = try rows("SELECT job, input, status, result FROM durable_tasks WHERE parent_id IS NULL").map {
            "\($0["job"] as String) \($0["input"] as String) \($0["status"] as String) \($0["result"] as String? ?? "nil")"
        }
        let steps = try rows(
            """
            SELECT t.input, s.position, s.name, s.kind, s.status, s.result
            FROM durable_task_steps AS s JOIN durable_tasks AS t ON t.id = s.task_id
            """
        ).map {
            "step \($0["input"] as String) \($0["position"] as Int) \($0["name"] as String) \($0["kind"] as String) "
                + "\($0["status"] as String) \($0["result"] as String? ?? "nil")"
        }
        let children = try rows(
            """
            SELECT p.input AS parent, replace(c.key, 'child-of-' || p.id || '/', '') AS key,
                   c.name, c.input, c.status, c.result
            FROM durable_tasks AS c JOIN durable_tasks AS p ON p.id = c.parent_id
            """
        ).map {
            "child of \($0["parent"] as String): \($0["key"] as String? ?? "nil") \($0["name"] as String) "
                + "\($0["input"] as String) \($0["status"] as String) \($0["result"] as String? ?? "nil")"
        }
        return (tasks + steps + children).sorted()
    }
}
