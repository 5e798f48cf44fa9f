import DurableEngine
import Foundation
import GRDB
import GRDBSQLite

// Tasks stored in an application's own write transaction on the same file.
extension SQLiteStore {
    /// Inserts `tasks` in the transaction open on `db`, all or none (inside a
    /// savepoint, so a failure leaves the application's transaction as it was
    /// before the call). They exist once that transaction commits, and not at
    /// all if it rolls back.
    ///
    /// - Throws: ``DurableError/Code/invalidArgument`` when `db` is not inside a
    ///   transaction or is a connection to another file; the errors of creating
    ///   tasks otherwise (a key taken with another input, say).
    func createTasks(_ tasks: [NewTask], now: Int64, in db: Database) throws -> [CreatedTask] {
        guard access == .readWrite else {
            throw DurableError(.readOnlyDatabase, "\(location) is open read-only: cannot create tasks")
        }
        try requireSameFile(db)
        if db.configuration.readonly || (try? Bool.fetchOne(db, sql: "PRAGMA query_only")) == true {
            throw DurableError(
                .invalidArgument,
                "creating tasks needs a write transaction (pool.write { db in … }), not a read-only connection")
        }
        guard db.isInsideTransaction else {
            throw DurableError(
                .invalidArgument,
                "creating tasks in an application's transaction needs a Database inside a write transaction "
                    + "(pool.write { db in … }); this one is not in a transaction")
        }
        guard !tasks.isEmpty else { return [] }
        var created: [CreatedTask] = []
        do {
            try db.inSavepoint {
                var transitions = SQLiteTransitions(db: db, now: now)
                created = try transitions.insert(tasks)
                // Other processes' feeds see the commit as one that was not theirs,
                // even when it lands beside one of theirs. Not recorded as this
                // store's (a savepoint of the application's may still undo the
                // raise): this process's feed reads once for it too.
                if created.contains(where: { !$0.existed }) { _ = try Self.raiseCommitCounter(db) }
                return .commit
            }
        } catch {
            throw describe(error, operation: "create \(tasks.count) task(s) in the application's transaction")
        }
        return created
    }

    /// Throws unless `db` is a connection to this store's file.
    private func requireSameFile(_ db: Database) throws {
        let name = db.sqliteConnection.flatMap { sqlite3_db_filename($0, "main") }.map { String(cString: $0) } ?? ""
        guard let theirs = Self.fileIdentity(name), let ours = Self.fileIdentity(location), theirs == ours else {
            throw DurableError(
                .invalidArgument,
                "the Database given is a connection to \(name.isEmpty ? "a temporary or in-memory database" : name), "
                    + "not to the engine's file \(location)")
        }
    }

    /// The device and inode of the file at `path`, `nil` when it has none.
    private static func fileIdentity(_ path: String) -> [UInt64]? {
        guard !path.isEmpty else { return nil }
        var info = stat()
        guard stat(path, &info) == 0 else { return nil }
        return [UInt64(info.st_dev), UInt64(info.st_ino)]
    }
}
