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

    /// Fairness between queues: a claim takes the first candidate of each queue
    /// (those among them first in claim order first), then the second of each,
    /// and so on up to `limit`, so that a queue with a backlog never starves
    /// another. `perQueue` holds each queue's candidates in claim order.
    package static func interleave(_ perQueue: [[(priority: Int, runAt: Int64, id: TaskID)]], limit: Int) -> [TaskID] {
        if perQueue.count == 1 { return perQueue[0].prefix(limit).map(\.id) }
        var chosen: [TaskID] = []
        var round = 0
        while chosen.count < limit {
            let turn = perQueue.compactMap { round < $0.count ? $0[round] : nil }.sorted(by: claimsBefore)
            guard !turn.isEmpty else { break }
            chosen += turn.prefix(limit - chosen.count).map(\.id)
            round += 1
        }
        return chosen
    }

    /// The tasks a create-and-claim starts: of the tasks just `created` (in the
    /// order of `tasks`), the new ones of the claim's jobs that are due, the
    /// first `claim.limit` in claim order — as a claim would take them. Tasks
    /// waiting for their concurrency key, and those of queues `openQueue`
    /// refuses (not served, limited or paused), are left to claims.
    package static func dueAmongCreated(
        _ created: [CreatedTask], _ tasks: [NewTask], claim: ClaimRequest, now: Int64,
        openQueue: (String) -> Bool
    ) -> [TaskID] {
        let jobs = claim.jobs.map(Set.init)
        let queues = claim.queues.map(Set.init)
        var due = zip(created, tasks)
            .filter { created, task in
                !created.existed && !created.waitsForKey && (jobs?.contains(task.job) ?? true)
                    && (queues?.contains(task.queue) ?? true) && openQueue(task.queue)
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
