/// A task stored as `running` that nobody runs any more: its worker's process is
/// gone, its worker was marked stopped, or its lease expired. It stays `running`
/// in the file until a worker recovers it, which any worker started on the file
/// does (at once for a dead process on its own host, otherwise once the lease has
/// expired): it is then pending again, or cancelled if a cancel was requested.
///
/// ```swift
/// for run in try await engine.abandonedRuns() {
///     print("task \(run.taskID): \(run.reason) since \(run.since)")
/// }
/// ```
public struct AbandonedRun: Sendable, Hashable {
    /// Why nobody runs the task.
    public enum Reason: String, Sendable, Hashable, CaseIterable {
        /// The worker ran on this host and its process is gone (this process can
        /// tell; the SQL views cannot, and wait for the lease).
        case ownerDead = "owner_dead"
        /// The worker was marked stopped.
        case ownerStopped = "owner_stopped"
        /// Nobody renewed the lease before it expired.
        case leaseExpired = "lease_expired"
    }

    /// The task.
    public var taskID: TaskID
    /// The task's job.
    public var job: String
    /// The worker that claimed the run.
    public var owner: String
    /// Why nobody runs it.
    public var reason: Reason
    /// Unix milliseconds: for a dead owner its last heartbeat (the last time it
    /// was known alive), for a stopped one when it stopped, for an expired lease
    /// when it expired.
    public var since: Int64

    /// Whether `task`'s run is abandoned at `now`: a dead owner first (`ownerDead`,
    /// as this process can tell), then a stopped one, then an expired lease. A
    /// task without a lease expiry never counts as expired, as in recovery.
    init?(_ task: RunningTaskRow, now: Int64, ownerDead: Bool) {
        let owner = task.owner ?? "unknown"
        if ownerDead {
            self.init(
                taskID: task.id, job: task.job, owner: owner, reason: .ownerDead,
                since: task.heartbeatAt ?? task.leaseExpiresAt ?? now)
        } else if let stopped = task.stoppedAt {
            self.init(taskID: task.id, job: task.job, owner: owner, reason: .ownerStopped, since: stopped)
        } else if let lease = task.leaseExpiresAt, lease < now {
            self.init(taskID: task.id, job: task.job, owner: owner, reason: .leaseExpired, since: lease)
        } else {
            return nil
        }
    }

    /// Creates an abandoned run.
    public init(taskID: TaskID, job: String, owner: String, reason: Reason, since: Int64) {
        self.taskID = taskID
        self.job = job
        self.owner = owner
        self.reason = reason
        self.since = since
    }
}
