@testable import DurableEngine
import DurableTestKit
import Durable
import Foundation
import Testing

/// A claim whose commit got no answer (the connection to PostgreSQL was lost at
/// `COMMIT`) may have committed: the store then says this worker runs tasks that
/// nothing here runs. Its heartbeats find them and hand them back.
@Suite("Claims nothing here runs")
struct OrphanedClaimTests {
    @Test("a task held in the store for this worker but run by nothing here is handed back after two heartbeats")
    func orphanHandedBack() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        let store = engine.store
        // Due in an hour: the worker does not claim it by itself.
        let task = try await engine.createTask(Echo.self, "orphan", options: TaskOptions(delay: .seconds(3600)))
        try await engine.run { engine async throws -> Void in
            var owner: String?
            try await eventually("the worker is registered") {
                owner = try await store.activeWorkers().first?.id
                return owner != nil
            }
            let worker = try #require(owner)
            // What the lost commit stored: the task claimed for this worker.
            let due = clock.now() + 3_600_000
            let claimed = try await store.completeAndClaim(
                [], claim: ClaimRequest(owner: worker, limit: 1, jobs: ["echo"], leaseUntil: due + 30_000), now: due)
            #expect(claimed.claimed.map(\.id) == [task.id])
            // Heartbeats every 10 s (a third of the 30 s lease); the second one that
            // finds it hands it back.
            while clock.sleeperCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
            clock.advance(by: .seconds(10))
            // Renewed by the first heartbeat, still held.
            let renewed = clock.now() + 30_000
            try await eventually("the first heartbeat ran") {
                try await engine.record(of: task.id).leaseExpiresAt == renewed
            }
            #expect(try await task.status() == .running)
            // The next heartbeat hands it back. (The clock's sleepers include other
            // loops: a step may pass before the heartbeat sleeps again, so time
            // moves on in steps until it has.)
            for _ in 0..<6 where try await task.status() != .pending {
                while clock.sleeperCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
                clock.advance(by: .seconds(10))
                for _ in 0..<500 where try await task.status() != .pending {
                    try await Task.sleep(for: .milliseconds(2))
                }
            }
            #expect(try await task.status() == .pending)
        }
        let record = try await engine.record(of: task.id)
        #expect(record.status == .pending)
        #expect(record.owner == nil)
        let attempts = try await engine.attempts(of: task.id)
        #expect(attempts.map(\.outcome) == [.interrupted])
        #expect(attempts.first?.error?.message.contains("without running it") == true)
    }
}
