/// An error from the engine itself (not from a job): a database it cannot use, an
/// unknown task, a call in the wrong state. The message names the file, task or
/// job concerned.
///
/// ```swift
/// do { _ = try TaskEngine(path: "old.sqlite") }
/// catch let error as DurableError where error.code == .schemaTooNew { print(error) }
/// ```
public struct DurableError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What went wrong, for programs to match on.
    public struct Code: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: String
        public init(rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        /// The file's schema was written by a newer Durable; nothing was changed.
        public static let schemaTooNew = Code(rawValue: "schema_too_new")
        /// The file's schema is older than this build and migrations were not to be applied.
        public static let schemaTooOld = Code(rawValue: "schema_too_old")
        /// The file is an SQLite database, but not one of Durable's.
        public static let notADurableDatabase = Code(rawValue: "not_a_durable_database")
        /// The file is not an SQLite database, or is damaged.
        public static let corruptDatabase = Code(rawValue: "corrupt_database")
        /// The file (or its folder, which holds the WAL) cannot be written.
        public static let readOnlyDatabase = Code(rawValue: "read_only_database")
        /// The file cannot be opened or created.
        public static let cannotOpen = Code(rawValue: "cannot_open")
        /// Another connection held the write lock for longer than the lock timeout.
        public static let databaseLocked = Code(rawValue: "database_locked")
        /// The disk is full.
        public static let diskFull = Code(rawValue: "disk_full")
        /// Any other storage error; the message has SQLite's words.
        public static let storage = Code(rawValue: "storage")
        /// This process could not store its work for longer than
        /// ``EngineConfiguration/storeFailureTimeout``: thrown to its waiters; the
        /// message names the cause (a full disk, say), and ``TaskEngine/health``
        /// carries the store's own error.
        public static let storeUnavailable = Code(rawValue: "store_unavailable")
        /// The connection to a database server (PostgreSQL) failed after the
        /// transaction's `COMMIT` (or a write of one statement, which commits on
        /// its own) was sent and before the server answered: the
        /// change may or may not be stored. Read back before doing it again, or
        /// give the tasks keys (``TaskRequest``'s `key`), which make creating
        /// them again safe.
        public static let commitOutcomeUnknown = Code(rawValue: "commit_outcome_unknown")
        /// No task has this id.
        public static let unknownTask = Code(rawValue: "unknown_task")
        /// No schedule has the name given.
        public static let unknownSchedule = Code(rawValue: "unknown_schedule")
        /// The task belongs to a different job than the one asked for.
        public static let jobMismatch = Code(rawValue: "job_mismatch")
        /// The task is not in a state that allows the call (`result()` before done).
        public static let invalidState = Code(rawValue: "invalid_state")
        /// An argument is not acceptable (empty task list, bad option).
        public static let invalidArgument = Code(rawValue: "invalid_argument")
        /// An idempotency key is reused for a different job or input.
        public static let keyConflict = Code(rawValue: "key_conflict")
        /// A task group is not open for new tasks.
        public static let groupNotOpen = Code(rawValue: "group_not_open")
        /// A value could not be encoded or decoded as JSON.
        public static let coding = Code(rawValue: "coding")
        /// The engine is already running a worker in this process.
        public static let alreadyRunning = Code(rawValue: "already_running")
        /// A stored row holds a value this build cannot read (a status edited by
        /// hand, say); the message names the task and the value.
        public static let invalidRow = Code(rawValue: "invalid_row")
        /// The store the engine runs on cannot do what was asked (an optional
        /// ability, such as appending to files); the message names both.
        public static let unsupported = Code(rawValue: "unsupported")
    }

    /// What went wrong.
    public var code: Code
    /// A sentence naming the file, task or job concerned.
    public var message: String

    /// Creates an engine error.
    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
