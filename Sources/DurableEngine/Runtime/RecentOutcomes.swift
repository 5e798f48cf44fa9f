/// The latest outcomes the ``CompletionHub`` routed, by task.
///
/// Every completion numbered after `start`, up to the newest added, is here
/// (but those deleted from the store). The oldest are dropped to keep at most
/// `capacity` outcomes and `byteBudget` bytes of results and errors, which
/// moves `start` on; a gap in the numbers (completions that did not pass
/// through the hub) starts over after it.
struct RecentOutcomes {
    /// Completions up to this number may be missing here.
    private(set) var start: Int64
    private var byTask: [TaskID: TaskOutcome] = [:]
    /// Oldest first from `head`: each outcome's number, task and size.
    private var order: [(sequence: Int64, id: TaskID, bytes: Int)] = []
    private var head = 0
    private var bytes = 0
    private let capacity: Int
    private let byteBudget: Int

    init(after sequence: Int64 = 0, capacity: Int = 1024, byteBudget: Int = 1 << 20) {
        start = sequence
        self.capacity = capacity
        self.byteBudget = byteBudget
    }

    /// Adds the outcome of the completion that follows the newest added.
    mutating func add(_ outcome: TaskOutcome) {
        let size = (outcome.result?.utf8.count ?? 0) + (outcome.error?.message.utf8.count ?? 0) + 64
        byTask[outcome.id] = outcome
        order.append((outcome.completionSequence, outcome.id, size))
        bytes += size
        while order.count - head > capacity || (bytes > byteBudget && order.count > head) {
            let oldest = order[head]
            head += 1
            bytes -= oldest.bytes
            start = oldest.sequence
            if byTask[oldest.id]?.completionSequence == oldest.sequence { byTask[oldest.id] = nil }
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
        bytes = 0
    }

    /// The outcomes of `ids` that are here, in completion order, when every
    /// completion after `unfinished` (a number at which none of them had
    /// finished) is here; `nil` when some may be missing.
    func outcomes(of ids: [TaskID], finishedAfter unfinished: Int64) -> [TaskOutcome]? {
        guard start <= unfinished else { return nil }
        return ids.compactMap { byTask[$0] }.sorted { $0.completionSequence < $1.completionSequence }
    }
}
