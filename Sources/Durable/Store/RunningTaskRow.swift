/// A task stored as `running`, with what the store knows of the worker that owns
/// it: what ``AbandonedRun`` tells abandoned runs from live ones by.
struct RunningTaskRow: Sendable, Equatable {
    var id: TaskID
    var job: String
    var owner: String?
    var leaseExpiresAt: Int64?
    /// The owner's row in the workers table, if it has one.
    var worker: WorkerInfo?
    /// When the owner last renewed its leases.
    var heartbeatAt: Int64?
    /// When the owner was marked stopped, if it was.
    var stoppedAt: Int64?
}
