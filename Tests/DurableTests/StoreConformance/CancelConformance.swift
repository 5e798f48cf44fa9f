import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Cancelling: a pending task at once, a running one by a stored request that
    /// its owner delivers, and a run that would go back to pending ends cancelled.
    @Suite("Cancelling")
    struct Cancelling {
        typealias H = StoreHarness

        @Test("cancelling a pending task cancels it at once, with a completion number; it is never claimed",
              arguments: StoreFixture.all)
        func pending(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let base = try await s.store.latestCompletionSequence()
                let id = try await s.create()
                let (result, effects) = try await s.store.requestCancel(of: id, message: "not needed", now: t + 1)
                #expect(result == .cancelledPending)
                #expect(effects.cancelRequests.isEmpty)
                let outcome = try #require(effects.finished.first)
                #expect(effects.finished.count == 1)
                #expect(outcome.id == id)
                #expect(outcome.status == .cancelled)
                #expect(outcome.error?.kind == .cancelled)
                #expect(outcome.cancelMessage == "not needed")
                #expect(outcome.completionSequence == base + 1)
                let record = try await s.record(id)
                #expect(record.status == .cancelled)
                #expect(record.completionSequence == base + 1)
                #expect(record.finishedAt == t + 1)
                #expect(try await s.claim(now: t + 2).isEmpty)
            }
        }

        @Test("cancelling a running task stores a request that cancelRequests(owner:) delivers to its owner only",
              arguments: StoreFixture.all)
        func running(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create(input: "1")
                let run = try await s.claimOnly(id, owner: "w1")
                let other = try await s.create(input: "2", now: t + 1)
                _ = try await s.claimOnly(other, owner: "w2", now: t + 1)

                let (result, effects) = try await s.store.requestCancel(of: id, message: "stop", now: t + 2)
                #expect(result == .requested(owner: "w1"))
                #expect(effects.finished.isEmpty)
                #expect(effects.cancelRequests == [RequestedCancel(id: id, owner: "w1", message: "stop")])
                let record = try await s.record(id)
                #expect(record.status == .running)
                #expect(record.owner == "w1")
                #expect(record.cancelRequestedAt == t + 2)
                #expect(record.cancelMessage == "stop")
                #expect(try await s.cancelRequests(owner: "w1") == [id: "stop"])
                #expect(try await s.cancelRequests(owner: "w2").isEmpty)

                // The run ends cancelled; nothing is left to deliver.
                let end = try await s.complete(run, .cancelled(H.cancellation("stop")), now: t + 3)
                #expect(end.effects.finished.map(\.status) == [.cancelled])
                #expect(try await s.cancelRequests(owner: "w1").isEmpty)
                #expect(try await s.status(other) == .running)
            }
        }

        @Test("cancelling a finished task reports alreadyFinished and changes nothing; an unknown task throws",
              arguments: StoreFixture.all)
        func finished(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                let run = try await s.claimOnly(id)
                try await s.complete(run, .succeeded(result: "1"), now: t + 1)
                let before = try await s.record(id)
                let sequence = try await s.store.latestCompletionSequence()
                let (result, effects) = try await s.store.requestCancel(of: id, message: "late", now: t + 2)
                #expect(result == .alreadyFinished)
                #expect(effects.finished.isEmpty)
                #expect(effects.cancelRequests.isEmpty)
                #expect(try await s.record(id) == before)
                #expect(try await s.store.latestCompletionSequence() == sequence)
                await #expect { _ = try await s.store.requestCancel(of: 999_999, message: nil, now: t) } throws: {
                    DurableError.Code.unknownTask.matches($0)
                }
            }
        }

        @Test("a run asked to cancel that then fails with retries left, is handed back or suspends ends cancelled",
              arguments: StoreFixture.all)
        func cancelBeatsRequeue(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let ids = try await s.create(count: 3)
                let runs = Dictionary(uniqueKeysWithValues: try await s.claim(owner: "w1").map { ($0.id, $0) })
                for id in ids { _ = try await s.store.requestCancel(of: id, message: "stop", now: t + 1) }
                let endings: [TaskCompletion.Ending] = [
                    .retry(H.failure(), runAt: t + 10), .released(H.interruption()), .suspended(runAt: t + 10),
                ]
                var completions: [TaskCompletion] = []
                for (id, ending) in zip(ids, endings) {
                    completions.append(try #require(runs[id]).completion(ending))
                }
                let result = try await s.complete(completions, now: t + 2)
                #expect(result.stale.isEmpty)
                #expect(result.effects.finished.map(\.id) == ids)
                #expect(result.effects.finished.allSatisfy { $0.status == .cancelled })
                #expect(result.effects.finished.allSatisfy { $0.cancelMessage == "stop" })
                for id in ids {
                    let record = try await s.record(id)
                    #expect(record.status == .cancelled)
                    #expect(record.error?.kind == .cancelled)
                    #expect(try await s.store.attempts(of: id).last?.outcome == .cancelled)
                }
                #expect(try await s.claim(now: t + 1_000).isEmpty)
            }
        }

        @Test("a run asked to cancel whose owner died, or whose lease expired, ends cancelled when recovered",
              arguments: StoreFixture.all)
        func cancelBeatsRecovery(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let dead = try await s.create(input: "1")
                _ = try await s.claimOnly(dead, owner: "w1", leaseUntil: t + 60_000)
                let expired = try await s.create(input: "2", now: t + 1)
                _ = try await s.claimOnly(expired, owner: "w2", now: t + 1, leaseUntil: t + 100)
                for id in [dead, expired] { _ = try await s.store.requestCancel(of: id, message: "stop", now: t + 2) }

                let recovery = try await s.store.recoverTasks(deadOwners: ["w1"], now: t + 200)
                #expect(recovery.requeued.isEmpty)
                #expect(recovery.effects.finished.map(\.id).sorted() == [dead, expired])
                #expect(recovery.effects.finished.allSatisfy { $0.status == .cancelled && $0.cancelMessage == "stop" })
                for id in [dead, expired] {
                    #expect(try await s.status(id) == .cancelled)
                    #expect(try await s.store.attempts(of: id).map(\.outcome) == [.abandoned])
                }
                #expect(try await s.claim(now: t + 1_000).isEmpty)
            }
        }

        @Test("cancelling a task cancels its unfinished children (and theirs) in the same commit, except detached ones",
              arguments: StoreFixture.all)
        func children(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let parent = try await s.create(input: "0")
                _ = try await s.claimOnly(parent, owner: "w1")
                let runningChild = try await s.create(input: "1", parentID: parent, now: t + 1)
                _ = try await s.claimOnly(runningChild, owner: "w2", now: t + 1)
                let pendingChild = try await s.create(input: "2", parentID: parent, now: t + 2)
                let grandchild = try await s.create(input: "3", parentID: pendingChild, now: t + 2)
                let detached = try await s.create(input: "4", parentID: parent, detached: true, now: t + 2)
                let stranger = try await s.create(input: "5", now: t + 2)

                let (result, effects) = try await s.store.requestCancel(of: parent, message: "stop", now: t + 3)
                #expect(result == .requested(owner: "w1"))
                #expect(Set(effects.finished.map(\.id)) == [pendingChild, grandchild])
                #expect(Set(effects.cancelRequests.map(\.id)) == [parent, runningChild])
                #expect(try await s.status(pendingChild) == .cancelled)
                #expect(try await s.status(grandchild) == .cancelled)
                #expect(try await s.cancelRequests(owner: "w2").keys.sorted() == [runningChild])
                #expect(try await s.status(detached) == .pending)
                #expect(try await s.status(stranger) == .pending)
            }
        }
    }
}
