@testable import DurablePostgres
import Testing

/// The PostgreSQL store keeps its last look-up of the next due time only while
/// no change that could move it was counted since the look-up began.
@Suite("Due time memory")
struct DueTimeMemoryTests {
    @Test("an answer holds after its look-up's time, until its due time or a change counted since the look-up began")
    func answerHoldsUntilAChange() {
        let memory = DueTimeMemory()
        #expect(memory.due(after: 10) == nil, "nothing looked up yet")

        memory.remember(nil, after: 10, changes: memory.changes)
        #expect(memory.due(after: 10) == .some(nil))
        #expect(memory.due(after: 99_999) == .some(nil), "none due later stays none")
        #expect(memory.due(after: 9) == nil, "earlier than its look-up: unknown")

        memory.remember(100, after: 10, changes: memory.changes)
        #expect(memory.due(after: 50) == .some(100))
        #expect(memory.due(after: 100) == nil, "once due, the next one is unknown")

        memory.laterWorkChanged()
        #expect(memory.due(after: 50) == nil, "a task due later may have been stored")

        let before = memory.changes
        memory.laterWorkChanged()
        memory.remember(100, after: 10, changes: before)
        #expect(memory.due(after: 50) == nil, "a change counted after the look-up began")

        memory.remember(100, after: 10, changes: memory.changes)
        memory.forget()
        #expect(memory.due(after: 50) == nil)
    }
}
