import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Recovery hands back the runs nobody does any more (dead owners, expired
    /// leases) as pending, with an abandoned attempt, and leaves live runs alone.
    @Suite("Recovery")
    struct Recovering {
        typealias H = StoreHarness

        @Test("the tasks of dead owners go back to pending with an abandoned attempt; the next claim is a new attempt",
              arguments: StoreFixture.all)
        func deadOwners(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let ids = try await s.create(count: 2)
                let dead = try await s.claim(owner: "w1", limit: 2, leaseUntil: t + 60_000)
                #expect(dead.count == 2)
                let live = try await s.create(input: "live", now: t + 1)
                _ = try await s.claimOnly(live, owner: "w2", now: t + 1, leaseUntil: t + 60_000)
                let liveBefore = try await s.record(live)

                let recovery = try await s.store.recoverTasks(deadOwners: ["w1", "w9"], now: t + 1_000)
                #expect(recovery.requeued.sorted() == ids)
                #expect(recovery.effects.finished.isEmpty)
                for run in dead {
                    let record = try await s.record(run.id)
                    #expect(record.status == .pending)
                    #expect(record.owner == nil)
                    #expect(record.leaseExpiresAt == nil)
                    #expect(record.completionSequence == nil)
                    let attempts = try await s.store.attempts(of: run.id)
                    #expect(attempts.map(\.attempt) == [run.attempt])
                    #expect(attempts.map(\.outcome) == [.abandoned])
                    #expect(attempts.first?.owner == "w1")
                    #expect(attempts.first?.error?.kind == .interrupted)
                }
                #expect(try await s.record(live) == liveBefore)
                #expect(try await s.hasClaimableTask(jobs: ["job"], now: t + 1_000))

                // The dead owner's late completion is refused; a new claim starts a new attempt.
                let late = try await s.complete([dead[0].completion(.succeeded(result: "1"))], now: t + 1_001)
                #expect(late.stale == [dead[0].id])
                let again = try await s.claim(owner: "w3", now: t + 1_002)
                #expect(again.map(\.id).sorted() == ids)
                for run in again {
                    let previous = try #require(dead.first { $0.id == run.id })
                    #expect(run.attempt > previous.attempt)
                }
                let stale = try await s.complete([dead[1].completion(.succeeded(result: "1"))], now: t + 1_003)
                #expect(stale.stale == [dead[1].id])
                #expect(try await s.status(dead[1].id) == .running)
            }
        }

        @Test("tasks whose lease expired before now go back to pending; live leases (and one ending now) stay",
              arguments: StoreFixture.all)
        func expiredLeases(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let expired = try await s.create(input: "1")
                let expiredRun = try await s.claimOnly(expired, owner: "w1", leaseUntil: t + 100)
                let endingNow = try await s.create(input: "2", now: t + 1)
                _ = try await s.claimOnly(endingNow, owner: "w2", now: t + 1, leaseUntil: t + 300)
                let live = try await s.create(input: "3", now: t + 2)
                _ = try await s.claimOnly(live, owner: "w2", now: t + 2, leaseUntil: t + 500)
                let endingNowBefore = try await s.record(endingNow)
                let liveBefore = try await s.record(live)

                let recovery = try await s.store.recoverTasks(deadOwners: [], now: t + 300)
                #expect(recovery.requeued == [expired])
                #expect(recovery.effects.finished.isEmpty)
                #expect(try await s.status(expired) == .pending)
                let attempts = try await s.store.attempts(of: expired)
                #expect(attempts.map(\.outcome) == [.abandoned])
                #expect(attempts.map(\.attempt) == [expiredRun.attempt])
                #expect(try await s.record(endingNow) == endingNowBefore)
                #expect(try await s.record(live) == liveBefore)

                // A heartbeat extends the leases its owner still holds; recovery then leaves them.
                let renewed = try await s.store.heartbeat(owner: "w2", now: t + 300, leaseUntil: t + 10_000)
                #expect(Set(renewed.keys) == [endingNow, live])
                #expect(try await renewed[live] == s.record(live).attempt)
                #expect(try await s.record(live).leaseExpiresAt == t + 10_000)
                let later = try await s.store.recoverTasks(deadOwners: ["nobody"], now: t + 5_000)
                #expect(later.requeued.isEmpty)
                #expect(later.effects.finished.isEmpty)
                #expect(try await s.status(endingNow) == .running)
                #expect(try await s.status(live) == .running)
                #expect(try await s.store.attempts(of: live).isEmpty)
            }
        }
    }
}
