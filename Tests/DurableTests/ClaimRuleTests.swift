import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

/// The claimable rule exists once (``ClaimRule``); the store's claims, its
/// create-and-claim and its look for due work all agree with it.
@Suite("Claim rule")
struct ClaimRuleTests {
    /// (run_at, deadline) around `now`: due or not, deadline absent, ahead, at now, passed.
    private static let now: Int64 = 1_000_000
    private static let cases: [(runAt: Int64, deadline: Int64?)] = [
        (now - 10, nil), (now, nil), (now + 10, nil),
        (now - 10, now + 10), (now - 10, now), (now - 10, now - 5), (now + 10, now + 20), (now + 10, now - 5),
    ]

    private func newTask(runAt: Int64, deadline: Int64?) -> NewTask {
        NewTask(
            job: "double", input: "1", name: nil, context: nil, key: nil, priority: 0, runAt: runAt, deadline: deadline,
            parentID: nil, groupID: nil, callbackOf: nil)
    }

    @Test("a pending task past its deadline is not claimable, and the rule reads as stated")
    func rule() {
        #expect(ClaimRule.admits(runAt: 5, deadline: nil, now: 5))
        #expect(!ClaimRule.admits(runAt: 6, deadline: nil, now: 5))
        #expect(!ClaimRule.admits(runAt: 1, deadline: 5, now: 5))
        #expect(ClaimRule.admits(runAt: 1, deadline: 6, now: 5))
    }

    @Test("hasClaimableTask and a claim agree with the rule, case by case", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func storeAgrees() async throws {
        for (runAt, deadline) in Self.cases {
            let directory = TemporaryDirectory()
            let engine = try await makeTestEngine(in: directory)
            let store = try #require(engine.store as? SQLiteStore)
            _ = try await store.createTasks([newTask(runAt: runAt, deadline: deadline)], now: Self.now - 100)
            let expected = ClaimRule.admits(runAt: runAt, deadline: deadline, now: Self.now)
            let label = "run_at \(runAt - Self.now), deadline \(deadline.map { "\($0 - Self.now)" } ?? "none")"
            for jobs in [["double"], nil] {
                let interest = WorkerInterest(
                    owner: "w", readsCancelRequests: false, looksForWork: true, jobs: jobs, now: Self.now)
                #expect(try store.hasClaimableTask(for: interest) == expected, "\(label)")
            }
            let claim = ClaimRequest(owner: "w", limit: 10, jobs: nil, leaseUntil: Self.now + 1000)
            let claimed = try await store.completeAndClaim([], claim: claim, now: Self.now).claimed
            #expect(claimed.count == (expected ? 1 : 0), "\(label)")
        }
    }

    @Test("create-and-claim starts only the new tasks the rule admits")
    func createAndClaimAgrees() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let tasks = Self.cases.map { newTask(runAt: $0.runAt, deadline: $0.deadline) }
        let claim = ClaimRequest(owner: "w", limit: 100, jobs: ["double"], leaseUntil: Self.now + 1000)
        let result = try await engine.store.createAndClaimTasks(tasks, claim: claim, now: Self.now)
        let expected = zip(result.created, Self.cases)
            .filter { ClaimRule.admits(runAt: $0.1.runAt, deadline: $0.1.deadline, now: Self.now) }
            .map(\.0.id)
        #expect(result.claimed.map(\.id) == expected)
        #expect(expected.count == 3)
    }
}
