/// A store that can be administered in bulk: cancel or retry many tasks,
/// change their attempt options, delete finished ones.
package protocol AdministrableStore: TaskStore {
    /// Cancels up to `limit` pending tasks (of `job` and of `queue`, where given)
    /// in one transaction.
    func cancelPending(job: String?, queue: String?, limit: Int, message: String?, now: Int64) async throws -> TransitionEffects

    /// Makes finished tasks pending again (`failed` and `cancelled` ones only):
    /// errors, non-retryable step failures and cancel requests are cleared; stored
    /// successful steps stay, so the re-run resumes. Returns the ids reset.
    func retry(_ ids: [TaskID], now: Int64) async throws -> [TaskID]

    /// Sets the per-attempt timeout and the retry policy (JSON; `nil`: one attempt)
    /// of those of `ids` that have not succeeded; returns how many changed.
    func updateAttemptOptions(of ids: [TaskID], timeoutMilliseconds: Int64?, retry: String?) async throws -> Int

    /// The ids of up to `limit` failed tasks, oldest first.
    func failedTaskIDs(limit: Int) async throws -> [TaskID]

    /// Deletes up to `limit` finished tasks (of `statuses`) that finished before
    /// `before`, with their attempts, steps and callbacks, in one short transaction.
    func prune(finishedBefore before: Int64, statuses: Set<TaskStatus>, limit: Int) async throws -> Int
}
