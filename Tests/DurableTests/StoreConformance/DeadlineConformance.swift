import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Deadlines: a pending task whose deadline passed fails with a timeout error
    /// and is never started.
    @Suite("Deadlines")
    struct Deadlines {
        typealias H = StoreHarness

        @Test("expireDeadlines fails the pending tasks whose deadline passed, with a timeout error, and no others",
              arguments: StoreFixture.all)
        func expire(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let running = try await s.create(job: "run", input: "0", deadline: t + 50)
                _ = try await s.claimOnly(running)
                let done = try await s.create(job: "run", input: "1", deadline: t + 50, now: t + 1)
                let doneRun = try await s.claimOnly(done, now: t + 1)
                try await s.complete(doneRun, .succeeded(result: "1"), now: t + 2)
                let passed = try await s.create(input: "2", runAt: t + 60_000, deadline: t + 100, now: t + 2)
                let endsNow = try await s.create(input: "3", deadline: t + 200, now: t + 2)
                let future = try await s.create(input: "4", deadline: t + 500, now: t + 2)
                let none = try await s.create(input: "5", now: t + 2)
                let doneBefore = try await s.record(done)
                #expect(try await s.earliestPendingDeadline() == t + 100)

                let effects = try await s.store.expireDeadlines(now: t + 200)
                #expect(effects.finished.map(\.id).sorted() == [passed, endsNow])
                for outcome in effects.finished {
                    #expect(outcome.status == .failed)
                    #expect(outcome.error?.kind == .timeout)
                    let record = try await s.record(outcome.id)
                    #expect(record.status == .failed)
                    #expect(record.error?.kind == .timeout)
                    #expect(record.completionSequence == outcome.completionSequence)
                    #expect(record.finishedAt == t + 200)
                }
                #expect(try await s.status(future) == .pending)
                #expect(try await s.status(none) == .pending)
                #expect(try await s.status(running) == .running)
                #expect(try await s.record(done) == doneBefore)
                #expect(try await s.earliestPendingDeadline() == t + 500)
                #expect(try await s.store.expireDeadlines(now: t + 200).finished.isEmpty)
                #expect(Set(try await s.claim(now: t + 200).map(\.id)) == [future, none])
            }
        }

        @Test("a pending task whose deadline passed is never claimed; a worker's commit can fail it",
              arguments: StoreFixture.all)
        func neverClaimed(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create(deadline: t + 100)
                #expect(try await s.claim(now: t + 100).isEmpty)
                #expect(try await s.claim(now: t + 150).isEmpty)
                #expect(try await s.status(id) == .pending)

                let request = ClaimRequest(owner: "w1", limit: 10, jobs: nil, leaseUntil: t + H.lease)
                let cycle = try await s.store.completeAndClaim([], claim: request, failingExpired: true, now: t + 150)
                #expect(cycle.claimed.isEmpty)
                #expect(cycle.effects.finished.map(\.id) == [id])
                #expect(cycle.effects.finished.first?.error?.kind == .timeout)
                #expect(try await s.status(id) == .failed)
            }
        }
    }
}
