@testable import DurableEngine
import Testing

/// The worker's own timers, planned without a task: times come from a
/// ``ManualClock`` that the test advances.
@Suite("Worker timer plan")
struct WorkerTimerPlanTests {
    @Test("the earliest armed timer is next; each fires once when the clock reaches it")
    func firesInOrder() {
        let clock = ManualClock()
        var plan = WorkerTimerPlan()
        #expect(plan.next == nil)
        let start = clock.now()
        plan.due(at: start + 5_000)
        let armed = plan.deadline(at: start + 2_000)
        let again = plan.deadline(at: start + 2_000)  // armed already: no change
        #expect(armed && !again)
        plan.grace(endsAt: start + 9_000)
        #expect(plan.next == start + 2_000)
        let early = plan.fire(now: clock.now())
        #expect(early.isEmpty)
        clock.advance(by: .seconds(2))
        let second = plan.fire(now: clock.now())
        #expect(second == .init(deadlinePassed: true))
        #expect(plan.next == start + 5_000)
        clock.advance(by: .seconds(10))
        let late = plan.fire(now: clock.now())
        #expect(late == .init(workDue: true, graceEnded: true))
        #expect(plan.next == nil)
        let after = plan.fire(now: clock.now())
        #expect(after.isEmpty)
    }

    @Test("look-ups of the next due time coalesce to the latest ask, taken once")
    func lookUps() {
        var plan = WorkerTimerPlan()
        let none = plan.takeDueLookup()
        #expect(none == nil)
        plan.lookUpDue(after: 100)
        plan.lookUpDue(after: 300)
        plan.lookUpDue(after: 200)
        let latest = plan.takeDueLookup()
        let taken = plan.takeDueLookup()
        #expect(latest == 300 && taken == nil)
        plan.due(at: 400)
        plan.due(at: nil)  // a later look-up found nothing due
        #expect(plan.next == nil)
    }

    @Test("draining disarms the deadline timer and keeps the grace period; a new grace period replaces the old")
    func draining() {
        var plan = WorkerTimerPlan()
        _ = plan.deadline(at: 10)
        plan.grace(endsAt: 50)
        plan.drain()
        #expect(plan.next == 50)
        plan.grace(endsAt: 20)
        #expect(plan.next == 20)
        let fired = plan.fire(now: 20)
        #expect(fired == .init(graceEnded: true))
    }
}
