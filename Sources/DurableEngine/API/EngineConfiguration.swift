public import CoreMetrics
public import Tracing

/// How an engine stores and runs tasks. Every field has a default. Durations
/// are at most 10000 years; `TaskEngine(path:configuration:sqlite:logger:)` refuses
/// others (and intervals of zero or less) with ``DurableError/Code/invalidArgument``.
///
/// ```swift
/// var configuration = EngineConfiguration()
/// configuration.maxConcurrentTasks = 16
/// let engine = try TaskEngine(path: "jobs.sqlite", configuration: configuration)
/// ```
///
/// How a store uses its database (durability, lock waits, change polling) is the
/// store's own configuration: `SQLiteConfiguration` for SQLite files.
public struct EngineConfiguration: Sendable {
    /// How many tasks this process runs at once. Default 64.
    public var maxConcurrentTasks: Int = 64
    /// How many tasks a worker may claim beyond its free slots while its runs
    /// are short; `nil`, the default, is four times ``maxConcurrentTasks`` (at
    /// most 1024), and 0 claims only for free slots.
    ///
    /// While the recent runs take less than 5 ms on average, a claim also takes
    /// as many pending tasks as the slots would start within about 5 ms at that
    /// pace, up to this limit. They are `running` in the store from their claim,
    /// start here in claim order as slots free (without waiting for a commit),
    /// and so many more runs share each commit; an attempt's timeout counts
    /// from its start. A task claimed ahead that is cancelled before it starts
    /// ends without running; at shutdown it is handed back as pending without
    /// running, and so is every waiting one when none of them has started for a
    /// second (the runs ahead grew long: other workers may have room). Longer
    /// runs claim nothing ahead. After a crash, the tasks the worker held run
    /// again, as any running task does: with short runs, that is up to this many
    /// more than ``maxConcurrentTasks``.
    public var maxTasksClaimedAhead: Int?
    /// How long a claim holds without a heartbeat before another process may take
    /// the task back. Default 30 s.
    public var leaseDuration: Duration = .seconds(30)
    /// How often running tasks' leases are renewed. Default a third of the lease.
    public var heartbeatInterval: Duration?
    /// How often abandoned tasks (dead owners, expired leases) are looked for,
    /// besides at start. Default 5 s.
    public var recoveryInterval: Duration = .seconds(5)
    /// How long a graceful shutdown lets running tasks finish before cancelling
    /// them and handing them back as pending. Default 30 s.
    public var gracefulShutdownTimeout: Duration = .seconds(30)
    /// What to do with tasks whose job is not registered here. Default
    /// ``UnknownJobPolicy/leavePending``.
    public var unknownJobPolicy: UnknownJobPolicy = .leavePending
    /// The queues this process's worker runs tasks of (``TaskOptions/queue``);
    /// `nil`, the default, runs every queue. Tasks of other queues are left to
    /// other workers. ``TaskEngine/run(queues:)`` overrides it for one run.
    public var queues: [String]?
    /// A durable sleep longer than this suspends the job: its slot is freed and the
    /// task re-runs (replaying its steps) when the sleep ends. Shorter sleeps wait
    /// in place. Default 2 s.
    public var sleepSuspendThreshold: Duration = .seconds(2)
    /// How long this process's worker may fail to store its work (a full disk, a
    /// file that became read-only, a write lock held past `lockTimeout`) before
    /// the process's waiters are told: `value`, `result()`, `gather`, `wait`,
    /// `asCompleted`, `waitFor` and task groups called from outside a job then
    /// throw ``DurableError/Code/storeUnavailable`` naming the cause, and new
    /// waits that would block fail at once until a commit succeeds. The worker
    /// keeps retrying, with growing pauses, and loses nothing; once the store works
    /// again it stores what it finished. ``TaskEngine/health`` reports the failure
    /// from the first failed commit. Jobs awaiting other tasks keep waiting. A
    /// worker asked to stop while its store fails past this time stops its running
    /// tasks and gives up what it could not store: those tasks stay `running` in
    /// the file and run again once a worker recovers them. Zero tells waiters at
    /// the first failed commit; `nil`: waiters wait as long as it takes. Default 60 s.
    public var storeFailureTimeout: Duration? = .seconds(60)
    /// Whether opening a file applies the migrations it lacks. When `false`, a
    /// file with an older schema is refused (``DurableError/Code/schemaTooOld``);
    /// inspection tools use this so that only `durable migrate` changes a schema.
    public var appliesMigrations = true
    /// Whether this engine may change the file. Default
    /// ``DatabaseAccess/readWrite``; inspection tools use ``DatabaseAccess/readOnly``.
    public var access: DatabaseAccess = .readWrite
    /// The time source. Default the system clock.
    public var clock: any TaskClock = SystemClock()
    /// Where the jitter of retry delays is drawn from. Default the system's
    /// random number generator.
    public var random: RandomUnit = .system
    /// Where the engine reports its metrics (``MetricNames``). Default `nil`: the
    /// factory the application bootstrapped with `MetricsSystem.bootstrap`; with
    /// none bootstrapped, no metric is made at all. The library never bootstraps
    /// one.
    public var metricsFactory: (any MetricsFactory)?
    /// Where the engine reports its spans: one per run (`run <job>`) and one per
    /// step that runs (`step <name>`). Default `nil`: the tracer the application
    /// bootstrapped with `InstrumentationSystem.bootstrap`; with none, the engine
    /// neither starts spans nor stores trace contexts (the docs' "Metrics and traces").
    public var tracer: (any Tracer)?

    /// The SQLite settings given through the deprecated fields below; an
    /// explicit `SQLiteConfiguration` replaces them.
    package var sqliteSettings = SQLiteSettings()

    /// Creates a configuration with the defaults.
    public init() {}

    /// Creates a configuration with a clock, for tests.
    public init(clock: any TaskClock) {
        self.clock = clock
    }

    var effectiveHeartbeatInterval: Duration { heartbeatInterval ?? leaseDuration / 3 }

    /// Refuses values the engine cannot work with, naming the setting.
    package func validate() throws {
        guard maxConcurrentTasks > 0 else {
            throw DurableError(.invalidArgument, "EngineConfiguration.maxConcurrentTasks must be at least 1")
        }
        if let maxTasksClaimedAhead, maxTasksClaimedAhead < 0 {
            throw DurableError(
                .invalidArgument,
                "EngineConfiguration.maxTasksClaimedAhead must be 0 or more (nil: four times maxConcurrentTasks)")
        }
        let intervals = [("leaseDuration", leaseDuration), ("recoveryInterval", recoveryInterval)]
        for (name, interval) in intervals + (heartbeatInterval.map { [("heartbeatInterval", $0)] } ?? []) {
            try interval.checkedMilliseconds(of: "EngineConfiguration.\(name)", positive: true)
        }
        let limits = [
            ("gracefulShutdownTimeout", gracefulShutdownTimeout), ("sleepSuspendThreshold", sleepSuspendThreshold),
        ]
        for (name, limit) in limits { try limit.checkedMilliseconds(of: "EngineConfiguration.\(name)") }
        if let storeFailureTimeout {
            try storeFailureTimeout.checkedMilliseconds(of: "EngineConfiguration.storeFailureTimeout")
        }
        for queue in queues ?? [] { try QueueLimits.checkName(queue, of: "a queue of EngineConfiguration.queues") }
    }
}

/// What a worker does with a task whose job name it does not know.
public enum UnknownJobPolicy: Sendable, Hashable {
    /// Leave it pending for a process that registers the job (logged at start).
    case leavePending
    /// Fail it with an error naming the job.
    case fail
}

/// The SQLite settings that older versions took in ``EngineConfiguration``.
package struct SQLiteSettings: Sendable, Hashable {
    package var durability: Durability = .powerLossSafe
    package var lockTimeout: Duration = .seconds(60)
    package var changePollInterval: Duration = .milliseconds(1)
}

extension EngineConfiguration {
    /// What a commit survives.
    @available(*, deprecated, message: "set SQLiteConfiguration.durability and pass it to TaskEngine(path:configuration:sqlite:logger:)")
    public var durability: Durability {
        get { sqliteSettings.durability }
        set { sqliteSettings.durability = newValue }
    }

    /// How long to wait for another process's write lock.
    @available(*, deprecated, message: "set SQLiteConfiguration.lockTimeout and pass it to TaskEngine(path:configuration:sqlite:logger:)")
    public var lockTimeout: Duration {
        get { sqliteSettings.lockTimeout }
        set { sqliteSettings.lockTimeout = newValue }
    }

    /// How often the file is checked for other processes' commits.
    @available(*, deprecated, message: "set SQLiteConfiguration.changePollInterval and pass it to TaskEngine(path:configuration:sqlite:logger:)")
    public var changePollInterval: Duration {
        get { sqliteSettings.changePollInterval }
        set { sqliteSettings.changePollInterval = newValue }
    }
}
