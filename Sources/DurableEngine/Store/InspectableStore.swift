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

    /// The running tasks, by id, with their owners' worker rows.
    func runningTasks() async throws -> [RunningTaskRow]
}
