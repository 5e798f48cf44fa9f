/// A task stored as `running`, with what the store knows of the worker that owns
/// it: what ``AbandonedRun`` tells abandoned runs from live ones by.
package struct RunningTaskRow: Sendable, Equatable {
    package var id: TaskID
    package var job: String
    package var owner: String?
    package var leaseExpiresAt: Int64?
    /// The owner's row in the workers table, if it has one.
    package var worker: WorkerInfo?
    /// When the owner last renewed its leases.
    package var heartbeatAt: Int64?
    /// When the owner was marked stopped, if it was.
    package var stoppedAt: Int64?

    /// Creates a value with every field given.
    package init(id: TaskID, job: String, owner: String? = nil, leaseExpiresAt: Int64? = nil, worker: WorkerInfo? = nil, heartbeatAt: Int64? = nil, stoppedAt: Int64? = nil) {
        self.id = id
        self.job = job
        self.owner = owner
        self.leaseExpiresAt = leaseExpiresAt
        self.worker = worker
        self.heartbeatAt = heartbeatAt
        self.stoppedAt = stoppedAt
    }
}
