package import DurableEngine
import Foundation
import GRDB
import Logging
import Synchronization

/// The SQLite conformance of ``TaskStore``, on GRDB.
///
/// One file in WAL mode; writes in `BEGIN IMMEDIATE` transactions on GRDB's single
/// writer connection, reads on a pool of reader connections, and one more read-only
/// connection whose `PRAGMA data_version` tells when another connection committed.
/// Waits for the write lock are absorbed (growing pauses with jitter, see `LockWait`) up to
/// the configured lock timeout; only then does a ``DurableError/Code/databaseLocked``
/// error name the file.
package final class SQLiteStore: TaskStore, InspectableStore, FileAppendingStore, AdministrableStore {
    let pool: DatabasePool
    /// A dedicated connection for `PRAGMA data_version`, which counts the commits
    /// of *other* connections as seen by this one, and for the reads that follow.
    let changeConnection: DatabaseQueue
    package let location: String
    private let lockTimeout: Duration
    private let durability: Durability
    /// How often the change feed looks for other connections' commits.
    let changePollInterval: Duration
    /// Whether this store may write (see ``DatabaseAccess``).
    package let access: DatabaseAccess
    let ownCommits = Mutex(OwnCommits())
    package let completionSequenceAtOpen: Int64
    /// Whether the pool is this store's (opened by it, closed with it) rather
    /// than an application's that it shares.
    private let ownsPool: Bool

    /// Opens (or creates) the database at `path` and applies missing migrations.
    ///
    /// A file that is not an SQLite database, is another program's database, or
    /// has a newer schema is refused with a ``DurableError`` before anything in it
    /// is changed. Other processes opening the same file at the same moment are
    /// waited for, up to the lock timeout (see ``SQLiteOpening``).
    ///
    /// With `access == .readOnly`, the file must exist with this build's schema;
    /// it is opened for reading only, and every write fails with
    /// ``DurableError/Code/readOnlyDatabase``.
    package convenience init(
        path: String, configuration: SQLiteConfiguration = SQLiteConfiguration(), now: Int64,
        appliesMigrations: Bool = true, access: DatabaseAccess = .readWrite
    ) throws {
        try self.init(location: path, configuration: configuration, access: access, ownsPool: true) { lockTimeout in
            access == .readOnly
                ? try SQLiteOpening.openForReading(path: path, lockTimeout: lockTimeout)
                : try SQLiteOpening.openForWriting(
                    path: path, durability: configuration.durability, lockTimeout: lockTimeout, now: now,
                    appliesMigrations: appliesMigrations, shared: configuration.sharesFileWithApplication)
        }
    }

    /// Shares an application's open pool: Durable's tables join the
    /// application's in its file (added, or migrated, now), and Durable's writes
    /// go through the pool's one writer, so the two never wait for each other's
    /// write lock. Closing the store leaves the pool open.
    convenience init(
        sharing pool: DatabasePool, configuration: SQLiteConfiguration = SQLiteConfiguration(), now: Int64,
        appliesMigrations: Bool = true
    ) throws {
        try self.init(location: pool.path, configuration: configuration, access: .readWrite, ownsPool: false) {
            try SQLiteOpening.adopt(
                pool, durability: configuration.durability, lockTimeout: $0, now: now,
                appliesMigrations: appliesMigrations)
        }
    }

    private init(
        location: String, configuration: SQLiteConfiguration, access: DatabaseAccess, ownsPool: Bool,
        connect: (Duration) throws -> SQLiteOpening.Connections
    ) throws {
        self.location = location
        lockTimeout = configuration.lockTimeout
        durability = configuration.durability
        changePollInterval = configuration.changePollInterval
        self.access = access
        self.ownsPool = ownsPool
        do {
            let connections = try connect(lockTimeout)
            pool = connections.pool
            changeConnection = connections.changeConnection
            completionSequenceAtOpen = try pool.read(Self.completionSequence)
        } catch {
            throw Self.describe(error, path: location, operation: "open", lockTimeout: lockTimeout)
        }
    }

    /// The migrations applied to the file at `path`, read through a read-only
    /// connection; an error names the file if it is missing or not Durable's.
    static func readApplied(path: String, lockTimeout: Duration = SQLiteConfiguration().lockTimeout) throws
        -> [AppliedMigration]
    {
        do {
            return try SQLiteOpening.readApplied(path: path, lockTimeout: lockTimeout)
        } catch {
            throw describe(error, path: path, operation: "read the schema", lockTimeout: lockTimeout)
        }
    }

    // MARK: Running statements

    /// Runs `body` in an immediate write transaction, retrying while the database
    /// is locked by another process, up to the lock timeout.
    ///
    /// A `relaxed` write is not synced to disk on its own: for changes whose loss
    /// in a power cut is harmless (a claim: the task is simply pending again). The
    /// next synced commit makes it durable too, as WAL frames are synced in order.
    func write<T: Sendable>(
        _ operation: String, relaxed: Bool = false, _ body: @escaping @Sendable (Database) throws -> T
    ) async throws -> T {
        guard access == .readWrite else {
            throw DurableError(.readOnlyDatabase, "\(location) is open read-only: cannot \(operation)")
        }
        var backoff = LockWait.Deadline(timeout: lockTimeout)
        let relax = relaxed && durability == .powerLossSafe
        while true {
            do {
                return try await relax ? relaxedWrite(body) : pool.write { db in try self.counting(db, body) }
            } catch let error as DatabaseError where error.isLockContention {
                guard let pause = backoff.nextPause() else { throw describe(error, operation: operation) }
                try await Task.sleep(for: pause)
            } catch {
                throw describe(error, operation: operation)
            }
        }
    }

    /// `body` in a transaction committed without syncing the WAL (see `write`).
    private func relaxedWrite<T: Sendable>(_ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        try await pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA synchronous = NORMAL")
            defer { try? db.execute(sql: "PRAGMA synchronous = FULL") }
            var result: T?
            try db.inTransaction(.immediate) {
                result = try self.counting(db, body)
                return .commit
            }
            guard let result else { throw DurableError(.storage, "a relaxed write in \(self.location) returned nothing") }
            return result
        }
    }

    /// Runs `body`; if it changed anything, raises the `commits` counter in the
    /// same transaction, and once it commits remembers the counter's value as
    /// this store's: the change feed tells this store's commits from other
    /// connections' by it. (Remembered on the writer right after the commit, so
    /// the feed rarely sees one of ours before it is known as ours; when it
    /// does, it reads once for nothing.) A transaction that changed nothing
    /// stays invisible to other connections.
    private func counting<T>(_ db: Database, _ body: (Database) throws -> T) throws -> T {
        let changesBefore = db.totalChangesCount
        let value = try body(db)
        guard db.totalChangesCount != changesBefore, let number = try Self.raiseCommitCounter(db) else { return value }
        db.afterNextTransaction(onCommit: { _ in self.ownCommits.withLock { $0.record(number) } })
        return value
    }

    /// Raises the `commits` counter in the transaction open on `db` and returns
    /// its new value: other connections' change feeds see a commit that was not
    /// theirs.
    static func raiseCommitCounter(_ db: Database) throws -> Int64? {
        // An UPDATE and a SELECT: an upsert with RETURNING would build a temporary
        // b-tree per commit.
        do {
            let raise = try BoundStatement(db, sql: "UPDATE durable_counters SET value = value + 1 WHERE name = 'commits'")
            try raise.run()
        }
        if db.changesCount == 0 {
            try db.execute(sql: "INSERT INTO durable_counters (name, value) VALUES ('commits', 1)")
        }
        let read = try BoundStatement(db, sql: "SELECT value FROM durable_counters WHERE name = 'commits'")
        return try read.step() ? read.int64(0) : nil
    }

    /// Runs `body` on a reader connection, in a read transaction.
    func read<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (Database) throws -> T) async throws -> T {
        do {
            return try await pool.read(body)
        } catch let error as DatabaseError where Task.isCancelled && Self.isInterrupt(error) {
            // GRDB interrupts the statement of a cancelled task; SQLite reports
            // an interrupt inside some statements (json_each's constructor) as a
            // plain error. It is the cancellation either way.
            throw CancellationError()
        } catch {
            throw describe(error, operation: operation)
        }
    }

    /// Whether `error` is SQLite's interrupt, as such or as a virtual table's
    /// constructor failing under it (the message SQLite gives then).
    private static func isInterrupt(_ error: DatabaseError) -> Bool {
        error.resultCode.primaryResultCode == .SQLITE_INTERRUPT
            || (error.message ?? "").hasPrefix("vtable constructor failed")
            || (error.message ?? "").contains("interrupted")
    }

    /// Runs `body` at once on the connection that watches for changes, in a read
    /// transaction (it sees every commit made before it started).
    func readOnWatchingConnection<T>(_ operation: String, _ body: (Database) throws -> T) throws -> T {
        do {
            return try changeConnection.read(body)
        } catch {
            throw describe(error, operation: operation)
        }
    }

    package func close() throws {
        do {
            try changeConnection.close()
            // An application's pool stays open, with its -wal and -shm files.
            guard ownsPool else { return }
            try pool.close()
            // GRDB closes the pool's writer before its read-only readers, and a
            // read-only connection cannot checkpoint: the last connection to close
            // would leave the WAL. One read-write connection, closed last, folds
            // the WAL into the file and removes -wal and -shm (unless another
            // process still has the file open, which then keeps using them).
            if access == .readOnly {
                SQLiteOpening.removeEmptyWAL(path: location)
            } else {
                try SQLiteOpening.closeLast(path: location, lockTimeout: lockTimeout)
            }
        } catch {
            throw describe(error, operation: "close")
        }
    }

    /// `PRAGMA synchronous` of the writer connection (2 is FULL, 1 NORMAL).
    package func writerSynchronousLevel() async throws -> Int {
        try await pool.writeWithoutTransaction { db in try Int.fetchOne(db, sql: "PRAGMA synchronous") ?? -1 }
    }

    /// The highest completion number stored (the one read of the completion counter).
    static func completionSequence(_ db: Database) throws -> Int64 {
        try Int64.fetchOne(db.cachedStatement(sql: "SELECT value FROM durable_counters WHERE name = 'completion_seq'"))
            ?? 0
    }

    package func appliedMigrations() async throws -> [AppliedMigration] {
        try await read("read the schema version") { db in try SchemaMigrator.applied(db) }
    }

    /// ``describe(_:path:operation:lockTimeout:)`` for this store's file.
    package func describe(_ error: any Error, operation: String) -> any Error {
        Self.describe(error, path: location, operation: operation, lockTimeout: lockTimeout)
    }

    /// Turns a GRDB error into a ``DurableError`` that names the file and says what
    /// was being done (and, for a lock, how long it was waited for). Durable's own
    /// errors pass through.
    package static func describe(_ error: any Error, path: String, operation: String, lockTimeout: Duration) -> any Error {
        if error is DurableError || error is CancellationError { return error }
        guard let error = error as? DatabaseError else { return error }
        let detail = error.message ?? "\(error.resultCode)"
        switch error.resultCode.primaryResultCode {
        case .SQLITE_NOTADB, .SQLITE_CORRUPT:
            return DurableError(
                .corruptDatabase,
                "\(path) is not an SQLite database or is damaged (could not \(operation): \(detail))")
        case .SQLITE_READONLY:
            return DurableError(
                .readOnlyDatabase,
                "\(path) cannot be written (could not \(operation): \(detail)); "
                    + "check the permissions of the file and of its folder, which holds the -wal and -shm files")
        case .SQLITE_CANTOPEN, .SQLITE_PERM, .SQLITE_AUTH:
            return DurableError(.cannotOpen, "cannot open \(path) (could not \(operation): \(detail))")
        case .SQLITE_BUSY, .SQLITE_LOCKED:
            return DurableError(
                .databaseLocked,
                "\(path) stayed locked by another connection for longer than the lock timeout "
                    + "(\(LockWait.describe(lockTimeout))); could not \(operation)")
        case .SQLITE_FULL:
            return DurableError(.diskFull, "the disk holding \(path) is full (could not \(operation))")
        default:
            return DurableError(.storage, "could not \(operation) in \(path): \(detail)")
        }
    }
}
