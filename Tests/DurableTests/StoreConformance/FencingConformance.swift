import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Completions and steps are fenced by owner and attempt: a run that no longer
    /// owns its task changes nothing.
    @Suite("Fencing")
    struct Fencing {
        typealias H = StoreHarness

        /// Every way a run can end, finishing its task or handing it back.
        static let endings: [TaskCompletion.Ending] = [
            .succeeded(result: "2"), .failed(H.failure()), .cancelled(H.cancellation()),
            .released(H.interruption()), .retry(H.failure(), runAt: H.start + 5_000),
            .suspended(runAt: H.start + 5_000),
        ]

        @Test("a completion from another owner is refused as stale, whatever its ending, and changes nothing",
              arguments: StoreFixture.all)
        func wrongOwner(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                let run = try await s.claimOnly(id, owner: "w1")
                let before = try await s.record(id)
                let sequence = try await s.store.latestCompletionSequence()
                for ending in Self.endings {
                    let result = try await s.complete([run.completion(ending, owner: "w2")], now: t + 1)
                    #expect(result.stale == [id])
                    #expect(result.effects.finished.isEmpty)
                    #expect(result.effects.createdTasks == 0)
                    #expect(!result.requeued)
                    #expect(try await s.record(id) == before)
                }
                #expect(try await s.store.latestCompletionSequence() == sequence)
                #expect(try await s.store.attempts(of: id).isEmpty)
                // The owner's own completion goes through.
                let own = try await s.complete(run, .succeeded(result: "2"), now: t + 2)
                #expect(own.stale.isEmpty)
                #expect(own.effects.finished.map(\.id) == [id])
            }
        }

        @Test("a completion of an earlier attempt (same owner) is refused as stale and changes nothing",
              arguments: StoreFixture.all)
        func staleAttempt(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                let first = try await s.claimOnly(id, owner: "w1")
                #expect(try await s.complete(first, .released(H.interruption()), now: t + 1).stale.isEmpty)
                // Handed back and not yet claimed again: the old run's ending is refused.
                let pending = try await s.record(id)
                #expect(pending.status == .pending)
                for ending in Self.endings {
                    #expect(try await s.complete([first.completion(ending)], now: t + 2).stale == [id])
                    #expect(try await s.record(id) == pending)
                }
                // Claimed again by the same owner: only the new attempt may end it.
                let second = try await s.claimOnly(id, owner: "w1", now: t + 3)
                #expect(second.attempt > first.attempt)
                let running = try await s.record(id)
                for ending in Self.endings {
                    let result = try await s.complete([first.completion(ending)], now: t + 4)
                    #expect(result.stale == [id])
                    #expect(result.effects.finished.isEmpty)
                    #expect(try await s.record(id) == running)
                }
                #expect(try await s.store.attempts(of: id).map(\.attempt) == [first.attempt])
                let done = try await s.complete(second, .succeeded(result: "7"), now: t + 5)
                #expect(done.effects.finished.map(\.id) == [id])
                // Once finished, even the last run's ending (replayed, or another one) is refused.
                let finished = try await s.record(id)
                let sequence = try await s.store.latestCompletionSequence()
                for ending in Self.endings {
                    #expect(try await s.complete([second.completion(ending)], now: t + 6).stale == [id])
                    #expect(try await s.record(id) == finished)
                }
                #expect(try await s.store.latestCompletionSequence() == sequence)
                #expect(try await s.store.attempts(of: id).map(\.attempt) == [first.attempt, second.attempt])
            }
        }

        @Test("the same completion twice in one commit of many finishes its task once; the repeat is stale",
              arguments: StoreFixture.all)
        func repeatInOneCommit(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let ids = try await s.create(count: 40)
                let runs = try await s.claim(limit: 40)
                #expect(runs.count == 40)
                let base = try await s.store.latestCompletionSequence()
                // A batch large enough for a store to finish runs many per statement,
                // with the first run's completion repeated right after it.
                var completions = runs.map { $0.completion(.succeeded(result: "1")) }
                completions.insert(completions[0], at: 1)
                let result = try await s.complete(completions, now: t + 1)
                #expect(result.stale == [runs[0].id])
                #expect(result.effects.finished.map(\.id) == runs.map(\.id))
                #expect(result.effects.finished.map(\.completionSequence) == Array(base + 1...base + 40))
                #expect(try await s.store.latestCompletionSequence() == base + 40)
                let stored = try await s.store.outcomes(of: ids).outcomes
                #expect(stored.map(\.completionSequence) == Array(base + 1...base + 40))
            }
        }

        @Test("a step from another owner or an earlier attempt is refused (false) and stores nothing",
              arguments: StoreFixture.all)
        func fencedSteps(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                func record(position: Int = 0, owner: String, attempt: Int, now: Int64) async throws -> Bool {
                    let step = StoredStep(
                        position: position, name: "fetch", occurrence: position, kind: .step, status: .succeeded,
                        result: "42", error: nil, attempt: attempt)
                    return try await s.store.recordStep(step, of: id, owner: owner, attempt: attempt, now: now)
                }
                // Not running yet: nobody may store a step.
                #expect(try await record(owner: "w1", attempt: 0, now: t) == false)
                #expect(try await record(owner: "w1", attempt: 1, now: t) == false)
                let first = try await s.claimOnly(id, owner: "w1")
                #expect(try await record(owner: "w2", attempt: first.attempt, now: t + 1) == false)
                #expect(try await record(owner: "w1", attempt: first.attempt + 1, now: t + 1) == false)
                #expect(try await s.store.steps(of: id).isEmpty)

                try await s.complete(first, .released(H.interruption()), now: t + 2)
                let second = try await s.claimOnly(id, owner: "w1", now: t + 3)
                #expect(try await record(owner: "w1", attempt: first.attempt, now: t + 4) == false)
                #expect(try await s.store.steps(of: id).isEmpty)

                #expect(try await record(owner: "w1", attempt: second.attempt, now: t + 5))
                try await s.complete(second, .succeeded(result: "42"), now: t + 6)
                #expect(try await record(position: 1, owner: "w1", attempt: second.attempt, now: t + 7) == false)
                let stored = try await s.store.steps(of: id)
                #expect(stored.map(\.position) == [0])
                #expect(stored.map(\.attempt) == [second.attempt])
            }
        }
    }
}
