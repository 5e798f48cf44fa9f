@testable import DurableEngine
import Testing

/// The hub's latest outcomes, which answer a watch on a task this process has
/// just created without reading the store: only when every completion since the
/// task was known unfinished passed through the hub.
@Suite("Recent outcomes")
struct RecentOutcomesTests {
    private func outcome(_ id: Int64, sequence: Int64, result: String = "1") -> TaskOutcome {
        TaskOutcome(id: TaskID(id), status: .succeeded, result: result, completionSequence: sequence)
    }

    @Test("answers for tasks unfinished at a number from which on every completion is kept; not for earlier ones")
    func window() {
        var recent = RecentOutcomes(after: 10, capacity: 3)
        recent.add(outcome(1, sequence: 11))
        recent.add(outcome(2, sequence: 12))
        #expect(recent.outcomes(of: [TaskID(2), TaskID(1), TaskID(9)], finishedAfter: 10)?.map(\.id) == [TaskID(1), TaskID(2)])
        #expect(recent.outcomes(of: [TaskID(9)], finishedAfter: 12) == [])
        #expect(recent.outcomes(of: [TaskID(9)], finishedAfter: 9) == nil)  // 10 and before may be missing
        recent.add(outcome(3, sequence: 13))
        recent.add(outcome(4, sequence: 14))  // over capacity: 11 is dropped
        #expect(recent.start == 11)
        #expect(recent.outcomes(of: [TaskID(1)], finishedAfter: 10) == nil)
        #expect(recent.outcomes(of: [TaskID(4)], finishedAfter: 11)?.map(\.id) == [TaskID(4)])
        recent.restart(after: 20)
        #expect(recent.outcomes(of: [TaskID(4)], finishedAfter: 14) == nil)
        #expect(recent.outcomes(of: [TaskID(4)], finishedAfter: 20) == [])
    }

    @Test("large results are dropped by size, not only by count")
    func byteBudget() {
        var recent = RecentOutcomes(after: 0, capacity: 100, byteBudget: 1000)
        recent.add(outcome(1, sequence: 1, result: String(repeating: "x", count: 600)))
        recent.add(outcome(2, sequence: 2, result: String(repeating: "y", count: 600)))
        #expect(recent.start == 1)
        #expect(recent.outcomes(of: [TaskID(2)], finishedAfter: 1)?.first?.result?.count == 600)
    }

    @Test("the hub answers a new watch from what it routed, and reads the store after completions it did not see")
    func hub() {
        let hub = CompletionHub(after: 0)
        // Nobody watches: outcomes that follow on are kept.
        hub.publish([outcome(1, sequence: 1), outcome(2, sequence: 2)])
        let first = CompletionWatch(ids: [TaskID(2), TaskID(5)])
        #expect(hub.register(first, unfinishedThrough: 0)?.map(\.id) == [TaskID(2)])
        #expect(hub.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 2) == [])
        // Without a number, the store is read.
        #expect(hub.register(CompletionWatch(ids: [TaskID(5)])) == nil)
        hub.unregister(first)
        // A gap (another process's completions, unread while nobody watched): only later numbers answer.
        let quiet = CompletionHub(after: 0)
        quiet.publish([outcome(1, sequence: 1), outcome(7, sequence: 7)])
        #expect(quiet.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 1) == nil)
        #expect(quiet.register(CompletionWatch(ids: [TaskID(7)]), unfinishedThrough: 6)?.map(\.id) == [TaskID(7)])
        // A number covered without its outcomes, while nobody watched: the store is read.
        let covered = CompletionHub(after: 0)
        covered.publish([], coveredThrough: 4)
        #expect(covered.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 0) == nil)
        #expect(covered.register(CompletionWatch(ids: [TaskID(5)]), unfinishedThrough: 4) == [])
    }

    @Test("while watched, outcomes routed in completion order are kept, also those released after a gap")
    func watchedHub() {
        let hub = CompletionHub(after: 0)
        let watch = CompletionWatch(ids: [TaskID(1)])
        hub.register(watch)
        hub.publish([outcome(2, sequence: 2)])  // held: 1 is not routed yet
        #expect(hub.register(CompletionWatch(ids: [TaskID(2)]), unfinishedThrough: 0) == [])
        hub.publish([outcome(1, sequence: 1)])
        #expect(hub.register(CompletionWatch(ids: [TaskID(2)]), unfinishedThrough: 0)?.map(\.id) == [TaskID(2)])
    }
}
