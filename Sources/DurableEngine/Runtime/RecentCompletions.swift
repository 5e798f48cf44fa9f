/// The tasks of the latest completions the ``CompletionHub`` routed.
///
/// Every completion numbered after `start`, up to the newest added, is here
/// (but those deleted from the store). The oldest are dropped to keep at most
/// `capacity`, which moves `start` on; a gap in the numbers (completions that
/// did not pass through the hub) starts over after it.
///
/// It can only tell that tasks have *not* finished since a number: a task
/// found here may have been retried since, so its outcome is read from the store.
struct RecentCompletions {
    /// Completions up to this number may be missing here.
    private(set) var start: Int64
    /// Each task's latest completion number here.
    private var byTask: [TaskID: Int64] = [:]
    /// Oldest first from `head`: each completion's number and task.
    private var order: [(sequence: Int64, id: TaskID)] = []
    private var head = 0
    private let capacity: Int

    init(after sequence: Int64 = 0, capacity: Int = 4096) {
        start = sequence
        self.capacity = capacity
    }

    /// Adds the completion that follows the newest added.
    mutating func add(_ outcome: TaskOutcome) {
        byTask[outcome.id] = outcome.completionSequence
        order.append((outcome.completionSequence, outcome.id))
        while order.count - head > capacity {
            let oldest = order[head]
            head += 1
            start = oldest.sequence
            if byTask[oldest.id] == oldest.sequence { byTask[oldest.id] = nil }
        }
        if head > 64, head * 2 > order.count {
            order.removeFirst(head)
            head = 0
        }
    }

    /// Forgets everything: completions up to `sequence` may be missing here.
    mutating func restart(after sequence: Int64) {
        start = sequence
        byTask = [:]
        order = []
        head = 0
    }

    /// Whether it is known that none of `ids` finished after `unfinished` (a
    /// number at which none of them had finished): every completion since is
    /// here, and none is theirs. `false` when that is not known.
    func noneFinished(of ids: [TaskID], after unfinished: Int64) -> Bool {
        start <= unfinished && !ids.contains { byTask[$0] != nil }
    }
}
