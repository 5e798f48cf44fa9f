/// The names of the metrics an engine reports through swift-metrics, in the
/// shape swift-jobs uses (`swift.jobs`, `swift.jobs.duration`, ... with `name`
/// and `status` dimensions), under `durable.`; the job is the `job` dimension.
///
/// The library never bootstraps a metrics backend: it reports to the factory
/// given in ``EngineConfiguration/metricsFactory``, else to the one the
/// application bootstrapped with `MetricsSystem.bootstrap`; with neither, it
/// makes no metric at all. Counts and durations are those of this process.
///
/// ```swift
/// import Prometheus
/// let registry = PrometheusCollectorRegistry()
/// MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
/// let engine = try TaskEngine(path: "jobs.sqlite")   // reports to Prometheus
/// ```
///
/// | Name | Kind | Dimensions | What |
/// |---|---|---|---|
/// | `durable.tasks` | counter | `job`, `status` | tasks created, claimed, and runs ended, by ``TaskEvent`` |
/// | `durable.tasks.duration` | timer | `job`, `status` | how long a run took, by how it ended |
/// | `durable.tasks.queued.duration` | timer | `job` | from when a task was due to when it started |
/// | `durable.steps.duration` | timer | `job`, `status` | a step that ran (not replayed): `succeeded` or `failed` |
/// | `durable.commit.duration` | timer | | one worker commit (completions in, claims out) |
/// | `durable.commit.batch.size` | recorder | | completions per worker commit that stored any (the group commit's size) |
/// | `durable.worker.running` | gauge | | tasks running in this process's worker |
/// | `durable.worker.slots.free` | gauge | | slots free for more (`maxConcurrentTasks` minus running) |
public enum MetricNames {
    /// Counter of task events; its `status` dimension is a ``TaskEvent``.
    public static let tasks = "durable.tasks"
    /// Timer of a run, from its start to its end; `status` is how it ended.
    public static let runDuration = "durable.tasks.duration"
    /// Timer of the wait from a task's due time to its start.
    public static let queueWait = "durable.tasks.queued.duration"
    /// Timer of a step that ran.
    public static let stepDuration = "durable.steps.duration"
    /// Timer of a worker commit.
    public static let commitDuration = "durable.commit.duration"
    /// Recorder of the completions one worker commit carried.
    public static let commitBatchSize = "durable.commit.batch.size"
    /// Gauge of the tasks running in this process's worker.
    public static let runningTasks = "durable.worker.running"
    /// Gauge of the worker's free slots.
    public static let freeSlots = "durable.worker.slots.free"

    /// The `status` dimension of ``tasks`` (and of ``runDuration``, from
    /// `succeeded` on).
    public enum TaskEvent: String, Sendable, CaseIterable {
        /// Stored by this process (`createTask`, `createTasks`, done callbacks excepted).
        case created
        /// Claimed by this process's worker.
        case claimed
        /// A run returned; its result is stored.
        case succeeded
        /// A run threw and has no retry left (or the error is not retryable).
        case failed
        /// A run ended by a cancel request.
        case cancelled
        /// A run failed and is to run again after its retry delay.
        case retried
        /// A run was interrupted (shutdown, lost lease) and handed back as pending.
        case released
        /// A run suspended itself for a long durable sleep.
        case suspended
        /// A run of a worker that died, recovered by this process.
        case abandoned
    }
}
