import Synchronization

/// What the last look-up of the next due time found
/// (``PostgresStore/nextDueTime(after:)``), kept while it still holds.
///
/// A worker looks it up after every claim that drains the queues; on a busy
/// store that is once per task, and on a quiet one the answer rarely changes:
/// only when a pending task due later than its creation is stored (a delay, a
/// retry's pause, a sleep, a hand-back) or a queue's settings change. Each of
/// those makes the answer unknown again: this store's own writes (all but the
/// hot ones known to store no such task, see ``PostgresStore/write(_:singleStatement:storesLaterWork:_:)``)
/// and the notifications of other sessions' commits of kind
/// ``PostgresChangeNotice/Kinds/timers`` (and every read the feed makes
/// after notifications may have been lost).
///
/// A look-up notes the count of such changes before it reads; its answer is
/// kept only while that count stays the same, so a change that committed after
/// the look-up's snapshot (and was counted after it) is never missed.
final class DueTimeMemory: Sendable {
    private struct State {
        var changes: UInt64 = 0
        var answer: (changes: UInt64, after: Int64, due: Int64?)?
    }

    private let state = Mutex(State())

    /// A task due later may have been stored, or a queue changed.
    func laterWorkChanged() {
        state.withLock { $0.changes &+= 1 }
    }

    /// The count to hand to ``remember(_:after:changes:)``, read before a look-up.
    var changes: UInt64 { state.withLock { $0.changes } }

    /// The next due time after `now` when known without a look-up: `.some(nil)`
    /// when none is due later, `nil` when unknown.
    func due(after now: Int64) -> Int64?? {
        state.withLock { state in
            guard let answer = state.answer, answer.changes == state.changes, now >= answer.after else { return nil }
            guard let due = answer.due else { return .some(nil) }
            // Once due, the next one after it is unknown.
            return due > now ? .some(due) : nil
        }
    }

    /// What a look-up after `after` found, begun when the count was `changes`.
    func remember(_ due: Int64?, after: Int64, changes: UInt64) {
        state.withLock { $0.answer = (changes, after, due) }
    }

    /// Forgets the answer (a look-up whose answer depends on more than the
    /// stored tasks: queues with rate limits or resting ones).
    func forget() {
        state.withLock { $0.answer = nil }
    }
}
