import GRDB

/// The names of Durable's tables, views and indexes in an SQLite file.
///
/// Every one of them begins with `durable_` (`durable_tasks`, `durable_task_history`,
/// ...), so an application's own tables can share the file without colliding:
/// the prefix is Durable's, every other name the application's. Files written
/// before schema version 12 named them without it; ``SchemaMigrator`` renames
/// those objects the first time a newer Durable migrates the file.
package enum SchemaNames {
    /// What every name of Durable's objects begins with.
    package static let prefix = "durable_"

    /// The schema version from which every name has the prefix.
    static let prefixedSinceVersion = 12

    /// The names Durable's objects had before version 12, each of which is now
    /// `durable_` followed by it. (`durable_migrations` and `durable_counters`
    /// always had the prefix.)
    package static let unprefixed: [String] = [
        // Tables.
        "tasks", "task_attempts", "task_callbacks", "task_events", "task_groups", "task_messages", "task_steps",
        "task_waits", "queues", "queue_starts", "schedules", "workers", "appended_files", "file_appends",
        "pending_appends",
        // Views.
        "abandoned_runs", "attempt_history", "queue_stats", "queue_status", "schedule_status", "step_history",
        "task_history", "worker_status",
        // Indexes.
        "file_appends_path", "queue_starts_queue", "schedules_due", "task_callbacks_task", "task_messages_key",
        "task_messages_undelivered", "task_steps_occurrence", "tasks_claim", "tasks_completion",
        "tasks_concurrency", "tasks_deadline", "tasks_due", "tasks_group", "tasks_key", "tasks_parent",
        "tasks_running",
    ]

    /// `sql` with every unprefixed name of one of Durable's objects (a whole word,
    /// not after a `.`) given the prefix: `SELECT * FROM tasks` becomes
    /// `SELECT * FROM durable_tasks`. Column names never equal those names, so only
    /// references to objects change.
    package static func prefixed(_ sql: String) -> String {
        var result = ""
        var word = ""
        var previous: Character?
        func flushWord() {
            result += previous != "." && unprefixedSet.contains(word) ? prefix + word : word
            word = ""
        }
        for character in sql {
            if character.isLetter || character.isNumber || character == "_" {
                word.append(character)
                continue
            }
            if !word.isEmpty { flushWord() }
            result.append(character)
            previous = character
        }
        if !word.isEmpty { flushWord() }
        return result
    }

    private static let unprefixedSet = Set(unprefixed)

    /// Renames the objects of a file written before version 12 (inside the
    /// migration's transaction): see ``rename(_:objects:to:rewriting:)``. An
    /// application's own views that name Durable's old names are left as they
    /// are (they fail when used until the application changes them); so is every
    /// other object of the application.
    static func renameUnprefixed(_ db: Database) throws {
        try rename(db, objects: unprefixed, to: { prefix + $0 }, rewriting: prefixed)
    }

    /// Renames the objects of the file named `names` (those it has) to
    /// `newName(name)`: views, indexes and triggers are dropped and made again
    /// from their statements passed through `rewriting`, tables renamed in place
    /// (their rows stay as they are).
    static func rename(
        _ db: Database, objects names: [String], to newName: (String) -> String,
        rewriting: (String) throws -> String
    ) throws {
        let list = names.map { "'\($0)'" }.joined(separator: ", ")
        let objects = try Row.fetchAll(
            db,
            sql: "SELECT type, name, sql FROM sqlite_master WHERE name IN (\(list)) AND sql IS NOT NULL ORDER BY rowid"
        ).map { (type: $0[0] as String, name: $0[1] as String, sql: $0[2] as String) }
        guard !objects.isEmpty else { return }
        // Without the legacy rule, a rename checks every view of the file, and
        // would fail on an application's view of the old names.
        try db.execute(sql: "PRAGMA legacy_alter_table = ON")
        defer { try? db.execute(sql: "PRAGMA legacy_alter_table = OFF") }
        for object in objects where object.type != "table" {
            try db.execute(sql: "DROP \(object.type.uppercased()) \(object.name.quotedDatabaseIdentifier)")
        }
        for object in objects where object.type == "table" {
            try db.execute(
                sql: "ALTER TABLE \(object.name.quotedDatabaseIdentifier) RENAME TO "
                    + newName(object.name).quotedDatabaseIdentifier)
        }
        for object in objects where object.type != "table" {
            try db.execute(sql: try rewriting(object.sql))
        }
    }
}
