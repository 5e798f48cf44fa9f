public import DurableEngine

/// How the SQLite store uses its file: what a commit survives, how long to wait
/// for another process's write lock, how often to look for other processes'
/// commits. Every field has a default; the engine's own settings are in
/// ``/DurableEngine/EngineConfiguration``.
///
/// ```swift
/// var sqlite = SQLiteConfiguration()
/// sqlite.durability = .processCrashSafe
/// let engine = try TaskEngine(path: "jobs.sqlite", sqlite: sqlite)
/// ```
public struct SQLiteConfiguration: Sendable, Hashable {
    /// What a commit survives. Default ``/DurableEngine/Durability/powerLossSafe``
    /// (`PRAGMA synchronous = FULL`; ``/DurableEngine/Durability/processCrashSafe`` is `NORMAL`).
    public var durability: Durability = .powerLossSafe
    /// How long to wait for another process's write lock before failing with
    /// ``/DurableEngine/DurableError/Code/databaseLocked``. Default 60 s.
    public var lockTimeout: Duration = .seconds(60)
    /// How often the file is checked for commits of other processes (a cheap
    /// `PRAGMA data_version`, on a thread of its own) while anything waits on it.
    /// For 100 ms after another process's commit is seen or a wait begins, it is
    /// checked four times as often while a caller here waits for a result or an
    /// idle worker here waits for work, as more is likely to follow soon.
    /// Default 1 ms (an idle worker spends about 3-5 % of a core on 2-core VMs,
    /// mostly in waking up; raise it for many idle workers, lower it for lower
    /// latency; longer than 71 minutes counts as 71 minutes).
    public var changePollInterval: Duration = .milliseconds(1)
    /// Whether the file may hold an application's own tables beside Durable's.
    /// Default `false`: a file with tables of its own and no Durable schema is
    /// refused as another program's database. With `true`, Durable adds its
    /// tables to such a file (and opens one that already has them, as always);
    /// a file whose `PRAGMA application_id` names another program is still
    /// refused. ``/DurableEngine/TaskEngine/init(sharing:configuration:sqlite:logger:)``,
    /// which shares the application's GRDB pool, implies it.
    ///
    /// ```swift
    /// var sqlite = SQLiteConfiguration()
    /// sqlite.sharesFileWithApplication = true
    /// let engine = try TaskEngine(path: "app.sqlite", sqlite: sqlite)   // a worker process of the app
    /// ```
    public var sharesFileWithApplication = false

    /// Creates a configuration with the defaults.
    public init() {}

    /// The settings given through ``/DurableEngine/EngineConfiguration``'s deprecated fields.
    init(_ engine: EngineConfiguration) {
        durability = engine.sqliteSettings.durability
        lockTimeout = engine.sqliteSettings.lockTimeout
        changePollInterval = engine.sqliteSettings.changePollInterval
    }

    /// Refuses values the store cannot work with, naming the setting.
    func validate() throws {
        try lockTimeout.checkedMilliseconds(of: "SQLiteConfiguration.lockTimeout")
        try changePollInterval.checkedMilliseconds(of: "SQLiteConfiguration.changePollInterval", positive: true)
    }
}
