import DurableEngine
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
        path: String, durability: Durability, lockTimeout: Duration, now: Int64, appliesMigrations: Bool,
        shared: Bool
    ) throws -> Connections {
        let lockWait = LockWait.busyMode(timeout: lockTimeout)
        return try LockWait.retrying(timeout: lockTimeout) {
            try inspectExistingFile(at: path, lockWait: lockWait, sharing: shared ? .optedIn : .no)
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
                    try SchemaMigrator.migrate(
                        db, path: path, now: now, apply: appliesMigrations, sharing: shared ? .optedIn : .no)
                }
                return Connections(pool: pool, changeConnection: try changeConnection(path: path, lockWait: lockWait))
            } catch {
                try? pool.close()
                throw error
            }
        }
    }

    /// Takes an application's open pool for Durable's tables too: checks its
    /// file as a shared one (see ``SchemaMigrator/checkIsDurable(_:path:sharing:)``),
    /// applies the missing migrations in one transaction on the pool's writer,
    /// and sets the writer's `synchronous` level to `durability` (the
    /// application's own commits on that connection get it too: they may hold
    /// tasks). The pool stays the application's: closing the store leaves it open.
    static func adopt(
        _ pool: DatabasePool, durability: Durability, lockTimeout: Duration, now: Int64, appliesMigrations: Bool
    ) throws -> Connections {
        let path = pool.path
        let lockWait = LockWait.busyMode(timeout: lockTimeout)
        return try LockWait.retrying(timeout: lockTimeout) {
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = \(durability.synchronousPragma)")
                try db.inTransaction(.immediate) {
                    try SchemaMigrator.migrate(
                        db, path: path, now: now, apply: appliesMigrations, sharing: .applicationPool)
                    return .commit
                }
            }
            return Connections(pool: pool, changeConnection: try changeConnection(path: path, lockWait: lockWait))
        }
    }

    /// Opens the existing file at `path` for reading only, and checks that it has
    /// exactly this build's schema. Never writes the database and never waits for
    /// the write lock: readers of a WAL file do not need it. (The busy handler
    /// still serves the rare moments when a reader must wait: another connection
    /// recovering the WAL index after a crash, or the last one closing.)
    static func openForReading(path: String, lockTimeout: Duration) throws -> Connections {
        let lockWait = LockWait.busyMode(timeout: lockTimeout)
        return try reading(path: path, lockTimeout: lockTimeout) {
            var configuration = Configuration()
            configuration.label = "Durable (read-only)"
            configuration.readonly = true
            configuration.busyMode = lockWait
            configuration.maximumReaderCount = 4
            let pool = try DatabasePool(path: path, configuration: configuration)
            do {
                try pool.read { db in try SchemaMigrator.checkCurrent(db, path: path) }
                return Connections(pool: pool, changeConnection: try changeConnection(path: path, lockWait: lockWait))
            } catch {
                try? pool.close()
                throw error
            }
        }
    }

    /// The migrations applied to the file at `path`, read through a read-only
    /// connection; an error names the file if it is missing or not Durable's.
    static func readApplied(path: String, lockTimeout: Duration) throws -> [AppliedMigration] {
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = LockWait.busyMode(timeout: lockTimeout)
        let applied = try reading(path: path, lockTimeout: lockTimeout) {
            let queue = try DatabaseQueue(path: path, configuration: configuration)
            defer { try? queue.close() }
            return try queue.read { db in
                try SchemaMigrator.checkIsDurable(db, path: path)
                return try SchemaMigrator.applied(db)
            }
        }
        removeEmptyWAL(path: path)
        return applied
    }

    /// Runs `open` on the existing file at `path` (again while another connection
    /// holds a lock, see ``LockWait/retrying(timeout:_:)``). A missing file is
    /// refused without creating it, and a file that SQLite cannot open for reading
    /// because it lacks its -wal and -shm files is named with the reason.
    private static func reading<T>(path: String, lockTimeout: Duration, _ open: () throws -> T) throws -> T {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DurableError(.cannotOpen, "no database at \(path)")
        }
        do {
            return try LockWait.retrying(timeout: lockTimeout, open)
        } catch let error as DatabaseError where error.resultCode == .SQLITE_CANTOPEN {
            let parent = (path as NSString).deletingLastPathComponent
            let folder = parent.isEmpty ? "." : parent
            guard !FileManager.default.fileExists(atPath: path + "-wal"), access(folder, W_OK) != 0 else { throw error }
            throw DurableError(
                .cannotOpen,
                "cannot read \(path): SQLite reads a WAL database through its \(path)-wal and -shm files, "
                    + "which do not exist and cannot be created, as the folder \(folder) cannot be written; "
                    + "make the folder writable or copy the file to a folder that is")
        }
    }

    /// After a read-only store closed: when the -wal file is empty (SQLite
    /// created it, with the -shm, for reading), opens and closes one read-write
    /// connection without waiting for any lock, so that if it is the last
    /// connection both files go away. An empty WAL has nothing to fold, so the
    /// database itself is not written; a WAL with frames is left for a writer.
    /// Best effort: a file this process cannot write keeps them.
    static func removeEmptyWAL(path: String) {
        let size = (try? FileManager.default.attributesOfItem(atPath: path + "-wal"))?[.size] as? Int
        // The file must still be there: opening read-write would create an empty one.
        guard size == 0, FileManager.default.fileExists(atPath: path), let last = try? DatabaseQueue(path: path) else {
            return
        }
        _ = try? last.read { db in try Int.fetchOne(db, sql: "PRAGMA schema_version") }
        try? last.close()
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
    private static func inspectExistingFile(
        at path: String, lockWait: Database.BusyMode, sharing: SchemaMigrator.FileSharing
    ) throws {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        guard let size = attributes?[.size] as? Int, size > 0 else { return }
        var configuration = Configuration()
        configuration.readonly = true
        configuration.busyMode = lockWait
        let queue = try DatabaseQueue(path: path, configuration: configuration)
        defer { try? queue.close() }
        _ = try queue.read { db in try SchemaMigrator.check(db, path: path, sharing: sharing) }
    }
}

extension Durability {
    /// The `PRAGMA synchronous` level that gives this durability.
    var synchronousPragma: String {
        switch self {
        case .powerLossSafe: "FULL"
        case .processCrashSafe: "NORMAL"
        }
    }
}
