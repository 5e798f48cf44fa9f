/// Thrown out of a job by a long durable sleep: the worker hands the task back
/// as pending until `until` (Unix milliseconds) instead of holding a slot, and the
/// re-run replays the job's steps up to the sleep, which then returns.
struct Suspension: Error, Sendable {
    let until: Int64
}
