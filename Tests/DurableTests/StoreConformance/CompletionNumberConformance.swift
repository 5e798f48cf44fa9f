import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Every finished task takes the next completion number in the commit that
    /// finishes it: gap-free, increasing, in commit order, never reused.
    @Suite("Completion numbers")
    struct CompletionNumbers {
        typealias H = StoreHarness

        @Test("every finished task gets a number; numbers are gap-free and increase across commits in commit order",
              arguments: StoreFixture.all)
        func gapFreeAcrossCommits(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let base = try await s.store.latestCompletionSequence()
                let ids = try await s.create(count: 6)
                let runs = Dictionary(uniqueKeysWithValues: try await s.claim(limit: 6).map { ($0.id, $0) })
                #expect(runs.count == 6)
                func run(_ index: Int) throws -> ClaimedRun { try #require(runs[ids[index]]) }
                let pending = try await s.create(job: "other", now: t + 1)
                let expiring = try await s.create(job: "other", deadline: t + 100, now: t + 1)
                var finished: [TaskOutcome] = []

                // One commit, two endings, in the order given (not the order of ids).
                let first = try await s.complete(
                    [try run(2).completion(.succeeded(result: "\"c\"")), try run(0).completion(.failed(H.failure()))],
                    now: t + 10)
                #expect(first.effects.finished.map(\.id) == [ids[2], ids[0]])
                finished += first.effects.finished
                // A cancelled pending task takes a number as well.
                let (cancel, cancelled) = try await s.store.requestCancel(of: pending, message: "no", now: t + 20)
                #expect(cancel == .cancelledPending)
                #expect(cancelled.finished.map(\.id) == [pending])
                finished += cancelled.finished
                // A handed-back run takes none; the endings around it do.
                let third = try await s.complete(
                    [
                        try run(1).completion(.cancelled(H.cancellation())),
                        try run(5).completion(.released(H.interruption())),
                        try run(4).completion(.succeeded(result: "4")),
                    ], now: t + 30)
                #expect(third.effects.finished.map(\.id) == [ids[1], ids[4]])
                finished += third.effects.finished
                // So does a task failed at its deadline.
                let expired = try await s.store.expireDeadlines(now: t + 150)
                #expect(expired.finished.map(\.id) == [expiring])
                finished += expired.finished

                #expect(finished.map(\.completionSequence) == Array(base + 1...base + 6))
                #expect(try await s.store.latestCompletionSequence() == base + 6)
                for outcome in finished {
                    let record = try await s.record(outcome.id)
                    #expect(record.completionSequence == outcome.completionSequence)
                    #expect(record.status == outcome.status)
                    #expect(record.status.isTerminal)
                    #expect(record.finishedAt != nil)
                }
                // Unfinished tasks have no number: the running one and the handed-back one.
                #expect(try await s.record(ids[3]).completionSequence == nil)
                #expect(try await s.record(ids[5]).completionSequence == nil)
                #expect(try await s.record(ids[5]).status == .pending)
            }
        }

        @Test("completions(after:limit:) pages through the finished tasks in number order",
              arguments: StoreFixture.all)
        func paging(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let base = try await s.store.latestCompletionSequence()
                _ = try await s.create(count: 5)
                let runs = try await s.claim(limit: 5)
                var finished: [TaskOutcome] = []
                for (index, run) in runs.reversed().enumerated() {
                    let ending: TaskCompletion.Ending =
                        index == 1 ? .failed(H.failure("second")) : .succeeded(result: String(index))
                    finished += try await s.complete(run, ending, now: t + Int64(index)).effects.finished
                }
                #expect(finished.count == 5)

                var pages: [CompletionPage] = []
                var after = base
                while pages.count < 10 {
                    let page = try await s.completions(after: after, limit: 2)
                    pages.append(page)
                    guard let last = page.outcomes.last else { break }
                    after = last.completionSequence
                }
                #expect(pages.map(\.outcomes.count) == [2, 2, 1, 0])
                #expect(pages.map(\.coveredThrough) == [base + 2, base + 4, base + 5, base + 5])
                #expect(pages.flatMap(\.outcomes) == finished)
                // The stored outcome is the one the commit reported: result, error and all.
                let failed = try #require(pages.flatMap(\.outcomes).first { $0.status == .failed })
                #expect(failed.error?.message == "second")
                #expect(failed.result == nil)
                #expect(try await s.completions(after: base + 3, limit: 100).outcomes == Array(finished[3...]))
            }
        }

        @Test("outcomes(of:) gives the finished tasks in completion order and names the missing (pruned) ones",
              arguments: StoreFixture.all)
        func outcomesInOrder(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let base = try await s.store.latestCompletionSequence()
                let ids = try await s.create(count: 4)
                let unfinished = try await s.create(job: "other")
                let claimed = try await s.claim(limit: 4, jobs: ["job"])
                let runs = Dictionary(uniqueKeysWithValues: claimed.map { ($0.id, $0) })
                func run(_ index: Int) throws -> ClaimedRun { try #require(runs[ids[index]]) }
                // Finished in the order 2, 0, 3 (early), then 1 (failed, later).
                try await s.complete(try run(2), .succeeded(result: "2"), now: t + 10)
                try await s.complete(try run(0), .succeeded(result: "0"), now: t + 10)
                try await s.complete(try run(3), .succeeded(result: "3"), now: t + 10)
                try await s.complete(try run(1), .failed(H.failure()), now: t + 20)

                let all = try await s.store.outcomes(of: [ids[0], unfinished, ids[3], ids[1], ids[2]])
                #expect(all.outcomes.map(\.id) == [ids[2], ids[0], ids[3], ids[1]])
                #expect(all.outcomes.map(\.completionSequence) == Array(base + 1...base + 4))
                #expect(all.missing.isEmpty)

                #expect(try await s.store.prune(finishedBefore: t + 15, statuses: [.succeeded], limit: 1) == 1)
                let pruned = try await s.store.prune(finishedBefore: t + 15, statuses: [.succeeded], limit: 10)
                #expect(pruned == 2)
                let never = TaskID(1_000_000)
                let later = try await s.store.outcomes(of: [ids[2], ids[1], never, unfinished, ids[0], ids[3]])
                #expect(later.outcomes.map(\.id) == [ids[1]])
                #expect(later.outcomes.first?.status == .failed)
                #expect(Set(later.missing) == [ids[2], never, ids[0], ids[3]])
                // Paging skips the pruned numbers and still covers them.
                let page = try await s.completions(after: base, limit: 10)
                #expect(page.outcomes.map(\.id) == [ids[1]])
                #expect(page.coveredThrough == base + 4)
            }
        }

        @Test("latestCompletionSequence() is the last number taken; pruning its task never lets it be taken again",
              arguments: StoreFixture.all)
        func latestSurvivesPrune(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let base = try await s.store.latestCompletionSequence()
                let ids = try await s.create(count: 2)
                for run in try await s.claim(limit: 2) {
                    try await s.complete(run, .succeeded(result: "1"), now: t + 1)
                }
                #expect(try await s.store.latestCompletionSequence() == base + 2)
                #expect(try await s.store.prune(finishedBefore: t + 2, statuses: [], limit: 10) == 2)
                #expect(try await s.store.outcomes(of: ids).missing == ids)
                #expect(try await s.store.latestCompletionSequence() == base + 2)
                let next = try await s.create(now: t + 3)
                let run = try await s.claimOnly(next, now: t + 3)
                let result = try await s.complete(run, .succeeded(result: "3"), now: t + 4)
                #expect(result.effects.finished.map(\.completionSequence) == [base + 3])
                #expect(try await s.store.latestCompletionSequence() == base + 3)
            }
        }
    }
}
