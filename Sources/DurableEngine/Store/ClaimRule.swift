/// When a stored task may be claimed: it is pending, due (`run_at` at or before
/// now) and its deadline, if any, is still ahead. A task past its deadline is
/// never started; the worker fails it instead (see ``TaskStore/expireDeadlines(now:)``).
///
/// The one definition every store follows, wherever it decides: in Swift
/// (``admits(runAt:deadline:now:)``, for tasks a store has just created) and in
/// its query language (each store renders the rule once, and every claim and
/// every look for due work uses that rendering). The store conformance suite
/// checks that a store's claims and its change feed's look for claimable work
/// (``WorkerChanges/hasClaimableTask``) agree with this function.
package enum ClaimRule {
    /// Whether a pending task due at `runAt` with `deadline` may start at `now`.
    package static func admits(runAt: Int64, deadline: Int64?, now: Int64) -> Bool {
        runAt <= now && (deadline.map { $0 > now } ?? true)
    }

    /// Claim order: higher priority first, then the earlier due, then the
    /// earlier created (lower id). Claims take claimable tasks in this order,
    /// also among tasks claimed in their creation's transaction.
    package static func claimsBefore(
        _ a: (priority: Int, runAt: Int64, id: TaskID), _ b: (priority: Int, runAt: Int64, id: TaskID)
    ) -> Bool {
        (b.priority, a.runAt, a.id.rawValue) < (a.priority, b.runAt, b.id.rawValue)
    }

    /// The tasks a create-and-claim starts: of the tasks just `created` (in the
    /// order of `tasks`), the new ones of the claim's jobs that are due, the
    /// first `claim.limit` in claim order — as a claim would take them.
    package static func dueAmongCreated(_ created: [CreatedTask], _ tasks: [NewTask], claim: ClaimRequest, now: Int64)
        -> [TaskID]
    {
        let jobs = claim.jobs.map(Set.init)
        var due = zip(created, tasks)
            .filter { created, task in
                !created.existed && (jobs?.contains(task.job) ?? true)
                    && admits(runAt: task.runAt, deadline: task.deadline, now: now)
            }
            .map { (priority: $0.1.priority, runAt: $0.1.runAt, id: $0.0.id) }
        // More due than slots: the first in claim order start (a batch of equal
        // priority and due time is in that order already).
        if due.count > claim.limit, zip(due, due.dropFirst()).contains(where: { claimsBefore($1, $0) }) {
            due.sort(by: claimsBefore)
        }
        return due.prefix(claim.limit).map(\.id)
    }
}
