import DurableTestKit
import Durable
import Foundation
import Testing

/// Tasks deleted by `prune` while something awaits them: the wait ends with an
/// error naming them instead of waiting forever, and `durable run` goes on.
@Suite("Pruned while awaited")
struct PrunedWhileAwaitedTests {
    @Test("awaiting a task that was pruned throws unknownTask naming it, instead of waiting forever")
    func awaitingAPrunedTask() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let (pruned, kept) = try await engine.run { engine in
            let pruned = try await engine.createTask(Echo.self, "old")
            _ = try await pruned.value
            let kept = try await engine.createTask(Echo.self, "new")
            _ = try await kept.value
            return (pruned, kept)
        }
        #expect(try await engine.prune(finishedBefore: Date().addingTimeInterval(60), statuses: [.succeeded]) == 2)
        let gathered = await #expect(throws: DurableError.self) {
            try await withTimeout("gather ends", .seconds(60)) { try await engine.gather([pruned]) }
        }
        #expect(gathered?.code == .unknownTask)
        #expect(gathered?.message.contains("task \(pruned.id) no longer exists") == true)
        let other = try await engine.createTask(Echo.self, "other")
        try await engine.run { engine async throws -> Void in
            let error = await #expect(throws: DurableError.self) {
                try await withTimeout("asCompleted ends", .seconds(60)) {
                    var ids: [TaskID] = []
                    for try await task in engine.asCompleted([other, kept]) { ids.append(task.id) }
                    return ids
                }
            }
            #expect(error?.message.contains("task \(kept.id)") == true)
            #expect(try await other.value == "other")
        }
    }
}

/// `statistics()`'s rate over the last minute.
@Suite("Statistics")
struct StatisticsRateTests {
    @Test("the last minute's rate is over the time the tasks took to finish, not the whole minute")
    func rateOverTheirOwnSpan() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        try await engine.run { engine async throws -> Void in
            _ = try await engine.gather(try await engine.createTasks(Echo.self, inputs: (0..<5).map { "a\($0)" }))
            clock.advance(by: .seconds(4))
            _ = try await engine.gather(try await engine.createTasks(Echo.self, inputs: (0..<5).map { "b\($0)" }))
        }
        let statistics = try await engine.statistics()
        #expect(statistics.finishedLastMinute == 10)
        #expect(statistics.lastMinuteSpanMilliseconds == 4000)
        #expect(statistics.lastMinuteRate == 2.25)
    }
}
