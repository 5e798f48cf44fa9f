/// A re-run of a job asked for other checkpoints than an earlier run stored: the
/// job's code changed (or depends on something that is not replayed). The task
/// fails; it is never retried.
public struct NonDeterministicReplay: NonRetryable, CustomStringConvertible, Hashable {
    /// How the runs differ.
    public enum Reason: String, Sendable, Hashable {
        /// A name and occurrence stored as a step is asked for as a durable sleep,
        /// or the other way round. Reported before the checkpoint runs.
        case kindChanged = "kind_changed"
        /// The job returned without asking for a stored checkpoint, while it asked
        /// for a new one (whose body ran), or for one a later run stored. Reported
        /// when the job returns; its result is not stored.
        case pathChanged = "path_changed"
    }

    /// The task whose run diverged.
    public var taskID: TaskID
    /// Its name.
    public var taskName: String
    /// How the runs differ.
    public var reason: Reason
    /// The position of the stored checkpoint.
    public var position: Int
    /// What an earlier run stored there, such as `step "fetch"`.
    public var stored: String
    /// What the code asked for instead.
    public var requested: String

    public var description: String {
        let task = "non-deterministic replay of task \(taskID) (\(taskName))"
        switch reason {
        case .kindChanged:
            return "\(task): an earlier run stored \(stored) at position \(position), but the code now asks for "
                + "\(requested)"
        case .pathChanged:
            return "\(task): the job returned without asking for \(stored), stored at position \(position) by an "
                + "earlier run, and asked for \(requested), which that run did not"
        }
    }
}
