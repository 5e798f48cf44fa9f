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
}
