/// A store that can answer inspection: the history of tasks, their runs and
/// callbacks, counts, the schema. The CLI's `ls`, `show`, `stats` and `watch`
/// and ``TaskEngine``'s inspection functions need it; running tasks does not.
package protocol InspectableStore: TaskStore {
    /// The schema migrations recorded in the database, oldest first.
    func appliedMigrations() async throws -> [AppliedMigration]

    /// Tasks matching the query, newest first.
    func tasks(matching query: TaskQuery) async throws -> [TaskRecord]

    /// The runs of a task, oldest first.
    func attempts(of id: TaskID) async throws -> [AttemptRecord]

    /// The durable done callbacks of a task, in the order added.
    func callbacks(of id: TaskID) async throws -> [CallbackRecord]

    /// Counts by job and status, and tasks finished since `minuteAgo` and `hourAgo`.
    func statistics(minuteAgo: Int64, hourAgo: Int64) async throws -> QueueStatistics

    /// The due time of the pending task that is due (`run_at <= now`) and has
    /// waited longest, or `nil` when no pending task is due.
    func oldestDueTime(now: Int64) async throws -> Int64?

    /// The running tasks, by id, with their owners' worker rows.
    func runningTasks() async throws -> [RunningTaskRow]

    /// How many tasks finished at or after `since`, per `bucket` milliseconds:
    /// bucket start (a multiple of `bucket`) to count; empty buckets left out.
    func finishedCounts(since: Int64, bucket: Int64) async throws -> [Int64: Int]

    /// The tasks failed at or after `since`, grouped by error type and message,
    /// most first, at most `limit` groups.
    func failureGroups(since: Int64, limit: Int) async throws -> [FailureGroup]

    /// From due to (last) start, in milliseconds, of the tasks finished at or
    /// after `since`: the latest `limit` of them.
    func queueWaits(since: Int64, limit: Int) async throws -> [Int64]

    /// The workers not stopped, oldest first, with how many tasks each holds.
    func workerActivity() async throws -> [WorkerActivity]
}
