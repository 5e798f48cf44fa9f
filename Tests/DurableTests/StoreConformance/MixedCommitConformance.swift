import DurableTestKit
import Durable
@testable import DurableEngine
import Testing

extension StoreConformance {
    /// A worker's usual commit carries many ended runs and a claim; some endings
    /// have consequences (a done callback to create, a group to shut down), some
    /// runs are no longer the worker's. (PostgreSQL stores the plain endings and
    /// the claim in one statement and the others in a transaction after it.)
    @Suite("Commits of mixed runs")
    struct MixedCommits {
        typealias H = StoreHarness

        @Test(
            "one commit of plain endings, a run with a done callback, a failure in a group and a stale run, with a claim: each of the owner's runs finishes once, with gap-free numbers, and every consequence is stored",
            arguments: StoreFixture.all)
        func mixedCommitWithClaim(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let base = try await s.store.latestCompletionSequence()
                let group = try await s.store.createGroup(name: "g", key: nil, now: t)
                let plain = try await s.create(count: 3)
                let withCallback = try await s.create(input: "7")
                try await s.store.addDoneCallback(to: withCallback, job: "notify", input: "\"n\"", now: t)
                let failing = try await s.create(input: "8", groupID: group.id)
                let sibling = try await s.create(input: "9", groupID: group.id)
                let runs = Dictionary(
                    uniqueKeysWithValues: try await s.claim(owner: "w1", jobs: ["job"]).map { ($0.id, $0) })
                #expect(runs.count == 6)
                func run(_ id: TaskID) throws -> ClaimedRun { try #require(runs[id]) }
                let waiting = try await s.create(count: 2, now: t + 1)

                let completions = [
                    try run(plain[0]).completion(.succeeded(result: "10")),
                    try run(withCallback).completion(.succeeded(result: "70")),
                    try run(plain[1]).completion(.failed(H.failure())),
                    try run(failing).completion(.failed(H.failure("group member failed"))),
                    try run(plain[2]).completion(.succeeded(result: "12"), owner: "w2"),
                ]
                let claim = ClaimRequest(owner: "w1", limit: 10, jobs: ["job"], leaseUntil: t + 2 + H.lease)
                let result = try await s.store.completeAndClaim(completions, claim: claim, now: t + 2)

                // The owner's four endings finish once each, numbered without gaps.
                #expect(result.stale == [plain[2]])
                let finished = result.effects.finished
                #expect(Set(finished.map(\.id)) == [plain[0], withCallback, plain[1], failing])
                #expect(finished.map(\.completionSequence) == Array(base + 1...base + 4))
                #expect(try await s.store.latestCompletionSequence() == base + 4)
                for outcome in finished {
                    let record = try await s.record(outcome.id)
                    #expect(record.completionSequence == outcome.completionSequence)
                    #expect(record.status == outcome.status)
                    #expect(try await s.store.attempts(of: outcome.id).count == 1)
                }
                #expect(try await s.record(plain[0]).result == "10")
                #expect(try await s.status(plain[1]) == .failed)
                // The stale run changed nothing.
                #expect(try await s.status(plain[2]) == .running)
                #expect(try await s.store.attempts(of: plain[2]).isEmpty)
                // The done callback's task exists once; the group shuts down for the
                // failure, and its running sibling is asked to stop.
                #expect(result.effects.createdTasks == 1)
                #expect(try await s.ids(ofJob: "notify").count == 1)
                #expect(try await s.store.group(group.id)?.state == .shuttingDown)
                #expect(try await s.store.group(group.id)?.failedTaskID == failing)
                #expect(result.effects.cancelRequests.map(\.id) == [sibling])
                // The claim took the tasks created meanwhile.
                #expect(Set(result.claimed.map(\.id)) == Set(waiting))
                for id in waiting { #expect(try await s.status(id) == .running) }
            }
        }
    }
}
