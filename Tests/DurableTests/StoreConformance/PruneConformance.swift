import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Pruning deletes finished tasks (with their attempts, steps and callbacks),
    /// never unfinished ones.
    @Suite("Pruning")
    struct Pruning {
        typealias H = StoreHarness

        @Test("prune deletes only finished tasks of the given statuses finished before the time, with their rows",
              arguments: StoreFixture.all)
        func selection(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let ids = try await s.create(count: 4)
                let runs = Dictionary(uniqueKeysWithValues: try await s.claim(limit: 4).map { ($0.id, $0) })
                func run(_ index: Int) throws -> ClaimedRun { try #require(runs[ids[index]]) }
                let (succeeded, failed, boundary, late) = (ids[0], ids[1], ids[2], ids[3])
                let step = StoredStep(
                    position: 0, name: "s", occurrence: 0, kind: .step, status: .succeeded, result: "1", error: nil,
                    attempt: try run(0).attempt)
                #expect(try await s.store.recordStep(step, of: succeeded, owner: "w1", attempt: step.attempt, now: t))
                try await s.store.addDoneCallback(to: succeeded, job: "notify", input: "1", now: t)
                try await s.complete(try run(0), .succeeded(result: "1"), now: t + 10)
                try await s.complete(try run(1), .failed(H.failure()), now: t + 10)
                try await s.complete(try run(2), .succeeded(result: "1"), now: t + 20)
                try await s.complete(try run(3), .succeeded(result: "1"), now: t + 50)
                let cancelled = try await s.create(input: "c", now: t + 10)
                _ = try await s.store.requestCancel(of: cancelled, message: nil, now: t + 10)
                let pending = try await s.create(input: "p", now: t + 10)
                let callbackTask = try #require(try await s.store.callbacks(of: succeeded).first?.callbackTaskID)

                let deleted = try await s.store.prune(finishedBefore: t + 20, statuses: [.succeeded, .failed], limit: 9)
                #expect(deleted == 2)
                for id in [succeeded, failed] {
                    #expect(try await s.store.task(id) == nil)
                    #expect(try await s.store.attempts(of: id).isEmpty)
                    #expect(try await s.store.steps(of: id).isEmpty)
                    #expect(try await s.store.callbacks(of: id).isEmpty)
                }
                // Finished at the time itself, later, of another status, unfinished: kept.
                #expect(try await s.status(boundary) == .succeeded)
                #expect(try await s.status(late) == .succeeded)
                #expect(try await s.status(cancelled) == .cancelled)
                #expect(try await s.status(pending) == .pending)
                #expect(try await s.status(callbackTask) == .pending)
                #expect(try await s.store.attempts(of: boundary).count == 1)

                // No statuses: every finished status.
                #expect(try await s.store.prune(finishedBefore: t + 1_000, statuses: [], limit: 100) == 3)
                #expect(try await s.store.outcomes(of: [boundary, late, cancelled]).missing.count == 3)
                #expect(try await s.status(pending) == .pending)
                #expect(try await s.status(callbackTask) == .pending)
            }
        }

        @Test("prune deletes at most limit tasks per call", arguments: StoreFixture.all)
        func limit(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let ids = try await s.create(count: 5)
                for run in try await s.claim(limit: 5) {
                    try await s.complete(run, .succeeded(result: "1"), now: t + 1)
                }
                var counts: [Int] = []
                for _ in 0..<4 {
                    counts.append(try await s.store.prune(finishedBefore: t + 2, statuses: [.succeeded], limit: 2))
                }
                #expect(counts == [2, 2, 1, 0])
                #expect(try await s.store.outcomes(of: ids).missing.count == 5)
            }
        }

        @Test("prune never deletes unfinished tasks, whatever statuses it is asked for", arguments: StoreFixture.all)
        func unfinished(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let running = try await s.create(input: "1")
                let run = try await s.claimOnly(running)
                let step = StoredStep(
                    position: 0, name: "s", occurrence: 0, kind: .step, status: .succeeded, result: "1", error: nil,
                    attempt: run.attempt)
                #expect(try await s.store.recordStep(step, of: running, owner: "w1", attempt: run.attempt, now: t))
                // Failed, then made pending again by retry: unfinished once more.
                let retried = try await s.create(input: "3", now: t + 1)
                let retriedRun = try await s.claimOnly(retried, now: t + 1)
                try await s.complete(retriedRun, .failed(H.failure()), now: t + 2)
                #expect(try await s.store.retry([retried], now: t + 3) == [retried])
                let pending = try await s.create(input: "2", deadline: t + 1_000_000, now: t + 3)

                let far = t + 10_000_000
                for statuses: Set<TaskStatus> in [[.pending, .running], Set(TaskStatus.allCases), []] {
                    #expect(try await s.store.prune(finishedBefore: far, statuses: statuses, limit: 100) == 0)
                }
                #expect(try await s.status(running) == .running)
                #expect(try await s.status(pending) == .pending)
                #expect(try await s.status(retried) == .pending)
                #expect(try await s.store.steps(of: running) == [step])
                #expect(try await s.store.attempts(of: retried).count == 1)
            }
        }
    }
}
