import DurableEngine
import GRDB

/// Applies the embedded migrations to a Durable database, and refuses files that
/// are not Durable's or that a newer Durable wrote.
///
/// All missing migrations are applied in one `BEGIN IMMEDIATE` transaction and
/// recorded in `durable_migrations`, so several processes opening a new file at the
/// same moment apply them exactly once: the second waits for the write lock, then
/// finds nothing left to do.
package enum SchemaMigrator {
    /// Whether a file may hold an application's tables beside Durable's.
    enum FileSharing {
        /// No: a file with tables of its own and no Durable schema is another program's.
        case no
        /// ``SQLiteConfiguration/sharesFileWithApplication``: other tables are the
        /// application's, but a file whose `application_id` names another program is not.
        case optedIn
        /// ``/DurableEngine/TaskEngine/init(sharing:configuration:sqlite:logger:)``: the
        /// application's own pool, so its `application_id` is the application's too.
        case applicationPool
    }

    /// `PRAGMA application_id` of Durable files ("Dura").
    static let applicationID: Int32 = 0x4475_7261

    static var migrations: [EmbeddedMigration] { EmbeddedMigration.all }

    package static var latestVersion: Int { migrations.last?.version ?? 0 }

    /// Checks, without writing, that the database can be migrated by this binary.
    /// Throws ``DurableError`` naming `path` when it cannot. Returns whether it has
    /// Durable's migration ledger (`false` for an empty file).
    @discardableResult
    static func check(_ db: Database, path: String, sharing: FileSharing = .no) throws -> Bool {
        guard try checkIsDurable(db, path: path, sharing: sharing) else { return false }
        let newest = try Int.fetchOne(db, sql: "SELECT max(version) FROM durable_migrations") ?? 0
        if newest > latestVersion {
            throw DurableError(
                .schemaTooNew,
                "\(path) has schema version \(newest), newer than this build of Durable knows (\(latestVersion)); "
                    + "use a newer Durable. Nothing was changed")
        }
        return true
    }

    /// Checks, without writing, that the database has every migration of this
    /// build: a file to read as it is. Throws ``DurableError`` naming `path` for a
    /// foreign or newer file (as ``check(_:path:)``), and for an empty one or one
    /// that lacks a migration (``DurableError/Code/schemaTooOld``).
    static func checkCurrent(_ db: Database, path: String) throws {
        try check(db, path: path)
        try requireAllApplied(db, path: path)
    }

    /// Throws ``DurableError/Code/schemaTooOld`` if a migration of this build is
    /// not recorded in the file (all of them for a file without the ledger).
    private static func requireAllApplied(_ db: Database, path: String) throws {
        let applied = Set(try applied(db).map(\.version))
        guard let first = migrations.first(where: { !applied.contains($0.version) }) else { return }
        throw DurableError(
            .schemaTooOld,
            "\(path) has schema version \(applied.max() ?? 0); this build needs \(latestVersion) "
                + "(migration \(first.version)_\(first.name) and later): run `durable migrate` first")
    }

    /// Throws when the file holds another program's tables. Returns whether it has
    /// Durable's migration ledger (`false` for an empty file, or, when shared,
    /// for an application's file that Durable's tables are to join).
    ///
    /// A file with Durable's ledger is Durable's, whatever else it holds. A file
    /// without it is refused when it has any table, unless `sharing` says the
    /// file is shared; then, when its `application_id` names another program
    /// (unless it is the application's own pool) or one of its objects has a name
    /// that begins with Durable's prefix, `durable_`.
    @discardableResult
    static func checkIsDurable(_ db: Database, path: String, sharing: FileSharing = .no) throws -> Bool {
        if try db.tableExists("durable_migrations") { return true }
        let appID = try Int32.fetchOne(db, sql: "PRAGMA application_id") ?? 0
        if appID != 0 && appID != applicationID && sharing != .applicationPool {
            throw DurableError(
                .notADurableDatabase,
                "\(path) is another program's SQLite database (its application_id is "
                    + "0x\(String(UInt32(bitPattern: appID), radix: 16))); nothing was changed"
                    + (sharing == .optedIn
                        ? ". If that id is your application's, share the file through its pool: TaskEngine(sharing: pool)"
                        : ""))
        }
        let names = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'")
        guard !names.isEmpty else { return false }
        guard sharing != .no else {
            throw DurableError(
                .notADurableDatabase,
                "\(path) is an SQLite database, but not a Durable one (it has other tables); nothing was changed. "
                    + "To keep Durable's tables beside an application's own, open it with "
                    + "SQLiteConfiguration.sharesFileWithApplication = true or TaskEngine(sharing: pool), "
                    + "or run `durable migrate --shared` on it")
        }
        let taken = names.filter { $0.lowercased().hasPrefix(SchemaNames.prefix) }
        if !taken.isEmpty {
            throw DurableError(
                .notADurableDatabase,
                "\(path) has objects whose names begin with \(SchemaNames.prefix), which Durable keeps for its own "
                    + "(\(taken.sorted().joined(separator: ", "))); rename them to share the file; nothing was changed")
        }
        return false
    }

    /// Whether the file holds no table, view, index or trigger at all.
    private static func isEmpty(_ db: Database) throws -> Bool {
        try Int.fetchOne(db, sql: "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%'") == 0
    }

    /// Applies the missing migrations in the current (immediate) transaction; with
    /// `apply == false`, throws ``DurableError/Code/schemaTooOld`` if any is missing.
    static func migrate(
        _ db: Database, path: String, now: Int64, apply: Bool = true, sharing: FileSharing = .no
    ) throws {
        let isDurable = try check(db, path: path, sharing: sharing)
        // A new (empty) file gets the schema even so; an application's does not.
        if !apply, try isDurable || !isEmpty(db) {
            try requireAllApplied(db, path: path)
        }
        if try !db.tableExists("durable_migrations") {
            try db.execute(
                sql: """
                    CREATE TABLE durable_migrations (
                        version    INTEGER PRIMARY KEY,
                        name       TEXT NOT NULL,
                        applied_at INTEGER NOT NULL
                    ) STRICT
                    """)
            // An application's file keeps its header as it is.
            let others = try Int.fetchOne(
                db, sql: "SELECT count(*) FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' AND name <> 'durable_migrations'")
            if others == 0 { try db.execute(sql: "PRAGMA application_id = \(applicationID)") }
        }
        let applied = Set(try Int.fetchAll(db, sql: "SELECT version FROM durable_migrations"))
        if let newest = applied.max(), newest < SchemaNames.prefixedSinceVersion {
            try SchemaNames.renameUnprefixed(db)
        }
        for migration in migrations where !applied.contains(migration.version) {
            do {
                try db.execute(sql: migration.sql)
            } catch {
                throw DurableError(
                    .storage,
                    "migration \(migration.version)_\(migration.name) failed on \(path): \(error)")
            }
            try db.execute(
                sql: "INSERT INTO durable_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                arguments: [migration.version, migration.name, now])
        }
    }

    /// The migrations recorded in the database.
    static func applied(_ db: Database) throws -> [AppliedMigration] {
        guard try db.tableExists("durable_migrations") else { return [] }
        return try Row.fetchAll(db, sql: "SELECT version, name, applied_at FROM durable_migrations ORDER BY version")
            .map { AppliedMigration(version: $0[0], name: $0[1], appliedAt: $0[2]) }
    }
}
