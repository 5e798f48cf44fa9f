import Foundation
import GRDB

/// Opens and closes the connections of a ``SQLiteStore``.
///
/// Opening a file creates it if needed, refuses a foreign or newer one, switches it
/// to WAL and applies missing migrations. Several processes may do this on the same
/// new file at the same moment: one of them converts it to WAL and migrates it, and
/// the others wait for it. Most waits are the busy handler's (``LockWait``), but
/// SQLite does not call it where waiting could deadlock: `PRAGMA journal_mode = WAL`
/// first reads the file, then must write its header, and while another connection
/// reads it fails at once with `SQLITE_BUSY`. So the whole sequence starts again
/// after such a failure, with the busy handler's growing pauses, until the lock
/// timeout has passed.
enum SQLiteOpening {
    /// What a store works with.
    struct Connections {
        /// The writer and the readers.
        var pool: DatabasePool
        /// The read-only connection of `PRAGMA data_version` (see ``SQLiteStore``).
        var changeConnection: DatabaseQueue
    }

    /// Opens (or creates) the file at `path` for reading and writing, and applies
    /// the missing migrations (with `appliesMigrations == false`, refuses a file
    /// that lacks some).
    static func openForWriting(
        path: String, durability: Durability, lockTimeout: Duration, now: Int64, appliesMigrations: Bool
    ) throws -> Connections {
        let lockWait = LockWait.busyMode(timeout: lockTimeout)
        return try LockWait.retrying(timeout: lockTimeout) {
            try inspectExistingFile(at: path, lockWait: lockWait)
            var configuration = Configuration()
            configuration.label = "Durable"
            configuration.busyMode = lockWait
            configuration.maximumReaderCount = 4
            configuration.prepareDatabase { db in
                try db.execute(sql: "PRAGMA synchronous = \(durability.synchronousPragma)")
            }
            let pool = try DatabasePool(path: path, configuration: configuration)
            do {
                // GRDB sets `synchronous = NORMAL` on the writer when it enables WAL,
                // after `prepareDatabase`: set the chosen level on the writer last.
                try pool.writeWithoutTransaction { db in
                    try db.execute(sql: "PRAGMA synchronous = \(durability.synchronousPragma)")
                }
                try pool.write { db in
                    try SchemaMigrator.migrate(db, path: path, now: now, apply: appliesMigrations)
                }
                return Connections(pool: pool, changeConnection: try changeConnection(path: path, lockWait: lockWait))
            } catch {
                try? pool.close()
                throw error
            }
        }
    }

    /// Opens and closes one read-write connection. When it is the last connection
    /// to the file, closing it folds the WAL into the file and removes the -wal and
    /// -shm files (a read-only connection cannot).
    static func closeLast(path: String, lockTimeout: Duration) throws {
        var configuration = Configuration()
        configuration.busyMode = LockWait.busyMode(timeout: lockTimeout)
        try LockWait.retrying(timeout: lockTimeout) {
            let last = try DatabaseQueue(path: path, configuration: configuration)
            do {
                try last.read { db in _ = try Int.fetchOne(db, sql: "PRAGMA schema_version") }
            } catch {
                try? last.close()
                throw error
            }
            try last.close()
        }
    }

    /// The dedicated read-only connection whose `PRAGMA data_version` tells when
    /// another connection committed.
    private static func changeConnection(path: String, lockWait: Database.BusyMode) throws -> DatabaseQueue {
        var configuration = Configuration()
        configuration.label = "Durable.changes"
        configuration.readonly = true
        configuration.busyMode = lockWait
        return try DatabaseQueue(path: path, configuration: configuration)
    }

    /// Looks at an existing file through a read-only connection, so that a foreign
    /// or newer database is refused before the pool switches it to WAL.
    private static func inspectExistingFile(at path: String, lockWait: Database.BusyMode) throws {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = attributes?[.size] as? Int, size > 0 else { return }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = lockWait
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        try queue.read { db in try SchemaMigrator.check(db, path: path) }
    }
}
