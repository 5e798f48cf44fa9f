@testable import DurableEngine
import Testing

/// The hub's latest completions, which tell that a task this process has just
/// created has not finished without reading the store: only when every
/// completion since the task was known unfinished passed through the hub.
@Suite("Recent completions")
struct RecentCompletionsTests {
    private func outcome(_ id: Int64, sequence: Int64) -> TaskOutcome {
        TaskOutcome(id: TaskID(id), status: .succeeded, result: "1", completionSequence: sequence)
    }

    @Test("knows tasks unfinished from a number on which every completion is kept; not before it, not a finished one")
    func window() {
        var recent = RecentCompletions(after: 10, capacity: 3)
        recent.add(outcome(1, sequence: 11))
        recent.add(outcome(2, sequence: 12))
        #expect(recent.noneFinished(of: [TaskID(9)], after: 10))
        #expect(!recent.noneFinished(of: [TaskID(9), TaskID(2)], after: 10))  // 2 finished (or was retried since)
        #expect(!recent.noneFinished(of: [TaskID(9)], after: 9))  // 10 and before may be missing
        recent.add(outcome(3, sequence: 13))
        recent.add(outcome(4, sequence: 14))  // over capacity: 11 is dropped
        #expect(recent.start == 11)
        #expect(!recent.noneFinished(of: [TaskID(9)], after: 10))
        #expect(recent.noneFinished(of: [TaskID(1)], after: 11))
        recent.restart(after: 20)
        #expect(!recent.noneFinished(of: [TaskID(9)], after: 14))
        #expect(recent.noneFinished(of: [TaskID(4)], after: 20))
    }

    @Test("the hub knows a new watch's tasks unfinished from what it routed, and not after completions it did not see")
    func hub() {
        let hub = CompletionHub(after: 0)
        // Nobody watches: completions that follow on are kept.
        hub.publish([outcome(1, sequence: 1), outcome(2, sequence: 2)])
        #expect(hub.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 0))
        #expect(!hub.register(CompletionWatch(ids: [TaskID(2), TaskID(5)]), unfinishedThrough: 0))
        #expect(!hub.register(CompletionWatch(ids: [TaskID(5)])))  // without a number: read the store
        // A gap (another process's completions, unread while nobody watched).
        let quiet = CompletionHub(after: 0)
        quiet.publish([outcome(1, sequence: 1), outcome(7, sequence: 7)])
        #expect(!quiet.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 1))
        #expect(quiet.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 6))
        // A number covered without its outcome, while nobody watched.
        let covered = CompletionHub(after: 0)
        covered.publish([], coveredThrough: 4)
        #expect(!covered.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 0))
        #expect(covered.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 4))
    }

    @Test("while watched: held completions count once routed; numbers skipped as deleted start over")
    func watchedHub() {
        let hub = CompletionHub(after: 0)
        hub.register(CompletionWatch(ids: [TaskID(1)]))
        hub.publish([outcome(2, sequence: 2)])  // held: 1 is not routed yet
        // Task 2's completion is held, and is routed to a watch registered now.
        #expect(hub.register(CompletionWatch(ids: [TaskID(2)]), unfinishedThrough: 0))
        hub.publish([outcome(1, sequence: 1)])
        #expect(!hub.register(CompletionWatch(ids: [TaskID(2)]), unfinishedThrough: 0))
        #expect(hub.register(CompletionWatch(ids: [TaskID(9)]), unfinishedThrough: 0))
        // 3 and 4 were deleted before anyone here saw them (a task pruned): 9 may be one of them.
        hub.publish([outcome(5, sequence: 5)], coveredThrough: 5)
        #expect(!hub.register(CompletionWatch(ids: [TaskID(9)]), unfinishedThrough: 0))
        #expect(hub.register(CompletionWatch(ids: [TaskID(9)]), unfinishedThrough: 5))
    }
}
