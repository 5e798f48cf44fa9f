import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Claims: due tasks of the asked-for jobs, highest priority first, then oldest,
    /// up to the limit; each run gets the next attempt number.
    @Suite("Claiming")
    struct Claiming {
        typealias H = StoreHarness

        @Test("a claim takes due tasks by priority, then creation order, across jobs, up to the limit",
              arguments: StoreFixture.all)
        func order(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let a = try await s.create(job: "x", input: "a", priority: 0)
                let b = try await s.create(job: "y", input: "b", priority: 5)
                let c = try await s.create(job: "x", input: "c", priority: 0)
                let d = try await s.create(job: "x", input: "d", priority: 5)
                let e = try await s.create(job: "y", input: "e", priority: -1)
                let f = try await s.create(job: "y", input: "f", priority: 0)
                let notDue = try await s.create(job: "x", input: "g", priority: 9, runAt: t + 1_000)

                #expect(Set(try await s.claim(limit: 3, now: t).map(\.id)) == [b, d, a])
                #expect(Set(try await s.claim(limit: 2, now: t).map(\.id)) == [c, f])
                #expect(Set(try await s.claim(limit: 10, now: t).map(\.id)) == [e])
                #expect(try await s.claim(limit: 10, now: t + 999).isEmpty)
                #expect(try await s.hasClaimableTask(jobs: nil, now: t + 999) == false)
                #expect(try await s.hasClaimableTask(jobs: ["x"], now: t + 1_000))
                // Due exactly at its run_at.
                #expect(try await s.claim(limit: 10, now: t + 1_000).map(\.id) == [notDue])
                #expect(try await s.claim(limit: 10, now: t + 2_000).isEmpty)
            }
        }

        @Test("a claim takes only tasks of the given jobs (none for an empty list) and stores the run",
              arguments: StoreFixture.all)
        func jobs(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let x = try await s.create(job: "x", input: "\"in-x\"")
                let y = try await s.create(job: "y", input: "2")
                let z = try await s.create(job: "z", input: "3")
                #expect(try await s.claim(jobs: [], now: t).isEmpty)
                #expect(try await s.hasClaimableTask(jobs: ["y"], now: t))
                #expect(try await s.hasClaimableTask(jobs: ["none"], now: t) == false)

                let runs = try await s.claim(owner: "w1", jobs: ["x", "z", "none"], now: t + 5, leaseUntil: t + 500)
                #expect(runs.map(\.id).sorted() == [x, z])
                #expect(try await s.status(y) == .pending)
                let run = try #require(runs.first { $0.id == x })
                #expect(run.task.job == "x")
                #expect(run.task.input == "\"in-x\"")
                #expect(run.task.name == "Task-\(x)")
                #expect(run.task.startedAt == t + 5)
                #expect(run.task.failures == 0)
                let record = try await s.record(x)
                #expect(record.status == .running)
                #expect(record.owner == "w1")
                #expect(record.attempt == run.attempt)
                #expect(record.leaseExpiresAt == t + 500)
                #expect(record.startedAt == t + 5)
                #expect(try await s.store.runningTasks().map(\.id) == [x, z])
            }
        }

        @Test("each run of a task gets a higher attempt number; a retry counts a failure and waits for its time",
              arguments: StoreFixture.all)
        func attempts(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                var attempts: [Int] = []
                let first = try await s.claimOnly(id, now: t)
                attempts.append(first.attempt)
                try await s.complete(first, .released(H.interruption()), now: t + 1)
                let second = try await s.claimOnly(id, now: t + 2)
                attempts.append(second.attempt)
                let retry = try await s.complete(second, .retry(H.failure(), runAt: t + 1_000), now: t + 3)
                #expect(retry.requeued)
                #expect(try await s.claim(now: t + 999).isEmpty)
                let third = try await s.claimOnly(id, now: t + 1_000)
                attempts.append(third.attempt)
                #expect(third.task.failures == 1)
                try await s.complete(third, .suspended(runAt: t + 2_000), now: t + 1_001)
                #expect(try await s.claim(now: t + 1_999).isEmpty)
                let fourth = try await s.claimOnly(id, now: t + 2_000)
                attempts.append(fourth.attempt)
                #expect(fourth.task.failures == 1)

                #expect(attempts == attempts.sorted() && Set(attempts).count == 4)
                #expect(attempts.first == 1)
                #expect(try await s.record(id).attempt == fourth.attempt)
                let stored = try await s.store.attempts(of: id)
                #expect(stored.map(\.attempt) == Array(attempts.prefix(3)))
                #expect(stored.map(\.outcome) == [.interrupted, .failed, .suspended])
            }
        }

        @Test("createAndClaimTasks claims only the new, due tasks of the claim's jobs, up to the limit",
              arguments: StoreFixture.all)
        func createAndClaim(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let existing = try await s.create(input: "0", key: "k")
                let tasks = [
                    H.newTask(input: "1"),
                    H.newTask(input: "2", runAt: t + 1_000),
                    H.newTask(input: "0", key: "k"),
                    H.newTask(job: "other", input: "3"),
                    H.newTask(input: "4"),
                    H.newTask(input: "5"),
                ]
                let request = ClaimRequest(owner: "w1", limit: 2, jobs: ["job"], leaseUntil: t + H.lease)
                let (created, claimed) = try await s.store.createAndClaimTasks(tasks, claim: request, now: t)
                #expect(created.map(\.existed) == [false, false, true, false, false, false])
                #expect(created[2].id == existing)
                // Two of the three eligible ones, in claim order (equal priority: creation order).
                let eligible: Set = [created[0].id, created[4].id, created[5].id]
                #expect(claimed.map(\.id).sorted() == [created[0].id, created[4].id])
                #expect(claimed.allSatisfy { $0.attempt == 1 && $0.startedAt == t })
                for id in claimed.map(\.id) { #expect(try await s.record(id).owner == "w1") }
                for id in eligible.subtracting(claimed.map(\.id)) { #expect(try await s.status(id) == .pending) }
                for index in [1, 3] { #expect(try await s.status(created[index].id) == .pending) }
                #expect(try await s.status(existing) == .pending)
            }
        }

        @Test("createAndClaimTasks takes the new due tasks in claim order: higher priority, earlier due, earlier created",
              arguments: StoreFixture.all)
        func createAndClaimInClaimOrder(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let tasks = [
                    H.newTask(input: "low"),
                    H.newTask(input: "high-late", priority: 5, runAt: t - 10),
                    H.newTask(input: "high-early", priority: 5, runAt: t - 20),
                    H.newTask(input: "mid", priority: 1),
                ]
                let request = ClaimRequest(owner: "w1", limit: 3, jobs: nil, leaseUntil: t + H.lease)
                let (created, claimed) = try await s.store.createAndClaimTasks(tasks, claim: request, now: t)
                #expect(claimed.map(\.id).sorted() == [created[1].id, created[2].id, created[3].id].sorted())
                #expect(try await s.status(created[0].id) == .pending)
                #expect(ClaimRule.claimsBefore((5, t - 20, created[2].id), (5, t - 10, created[1].id)))
                #expect(ClaimRule.claimsBefore((1, t, created[3].id), (0, t - 99, created[0].id)))
            }
        }

        @Test("createAndClaimTasks without keys stores the claimed tasks running for the owner and the rest pending",
              arguments: StoreFixture.all)
        func createAndClaimUnkeyed(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let tasks = [
                    H.newTask(input: "1"), H.newTask(input: "2", runAt: t + 1_000), H.newTask(job: "other", input: "3"),
                    H.newTask(input: "4"), H.newTask(input: "5"),
                ]
                let request = ClaimRequest(owner: "w1", limit: 2, jobs: ["job"], leaseUntil: t + H.lease)
                let (created, claimed) = try await s.store.createAndClaimTasks(tasks, claim: request, now: t)
                #expect(created.map(\.existed) == Array(repeating: false, count: 5))
                #expect(claimed.map(\.id) == [created[0].id, created[3].id])
                #expect(claimed.map(\.input) == ["1", "4"])
                for (offset, entry) in created.enumerated() {
                    let record = try await s.record(entry.id)
                    #expect(record.name == entry.name && record.job == tasks[offset].job)
                    #expect(record.input == tasks[offset].input && record.runAt == tasks[offset].runAt)
                    if claimed.contains(where: { $0.id == entry.id }) {
                        #expect(record.status == .running && record.owner == "w1" && record.attempt == 1)
                        #expect(record.startedAt == t && record.leaseExpiresAt != nil)
                    } else {
                        #expect(record.status == .pending && record.owner == nil && record.attempt == 0)
                    }
                }
                for run in claimed { #expect(run.name == (try await s.record(run.id)).name && run.attempt == 1) }
                // The others are claimed as any task is; the claimed ones finish as any run does.
                #expect(try await s.claim(owner: "w2", now: t + 1).map(\.id) == [created[2].id, created[4].id])
                try await s.complete(ClaimedRun(task: claimed[0], owner: "w1"), .succeeded(result: "1"), now: t + 2)
                #expect(try await s.status(created[0].id) == .succeeded)
            }
        }

        @Test("createCompleteAndClaim inserts the new tasks, stores the completions and claims, the new tasks included; on a store that commits them together, a taken key stores nothing",
              arguments: StoreFixture.all)
        func createInCycle(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let taken = try await s.create(input: "\"original\"", key: "taken")
                let run = try await s.claimOnly(taken, now: t)
                let request = ClaimRequest(owner: "w1", limit: 2, jobs: ["job"], leaseUntil: t + H.lease)
                let tasks = [H.newTask(input: "1"), H.newTask(input: "2", runAt: t + 1_000), H.newTask(input: "3")]
                let result = try await s.store.createCompleteAndClaim(
                    tasks, completions: [run.completion(.succeeded(result: "7"))], claim: request,
                    failingExpired: false, now: t + 1)
                #expect(result.created.map(\.existed) == [false, false, false])
                #expect(result.created.map(\.name) == result.created.map { "Task-\($0.id)" })
                #expect(result.stale.isEmpty)
                #expect(try await s.status(taken) == .succeeded)
                #expect(result.effects.finished.map(\.id) == [taken])
                // The due new tasks are claimed in the same call; the later one waits.
                #expect(result.claimed.map(\.id) == [result.created[0].id, result.created[2].id])
                for entry in result.claimed { #expect(try await s.record(entry.id).owner == "w1") }
                #expect(try await s.status(result.created[1].id) == .pending)

                // A key taken with another input: the call fails, and with it what it carried.
                let other = try await s.create(input: "\"other\"")
                let otherRun = try await s.claimOnly(other, now: t + 2)
                let conflicting = [H.newTask(input: "4"), H.newTask(input: "\"changed\"", key: "taken")]
                await #expect(throws: DurableError.self) {
                    _ = try await s.store.createCompleteAndClaim(
                        conflicting, completions: [otherRun.completion(.succeeded(result: "8"))], claim: request,
                        failingExpired: false, now: t + 3)
                }
                if s.store.commitsCreationsInCycles {
                    #expect(try await s.status(other) == .running)
                    #expect(try await s.claim(limit: 10, now: t + 4).isEmpty, "no task \"4\" stored")
                }
            }
        }

        @Test("createAndClaimTasks claims nothing in a paused queue or one with limits (its claims apply them)",
              arguments: StoreFixture.all)
        func createAndClaimInClosedQueue(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let queues = try #require(s.store as? any QueueStore)
                let request = ClaimRequest(owner: "w1", limit: 10, jobs: nil, leaseUntil: t + H.lease)
                let changes: [@Sendable (inout QueueSettings) -> Void] = [
                    { $0.isPaused = true }, { $0 = QueueSettings(concurrency: 5) },
                    { $0 = QueueSettings(rateLimit: RateLimit(5, per: .seconds(1))) },
                ]
                for change in changes {
                    _ = try await queues.updateQueue(TaskOptions.defaultQueue, now: t, change)
                    let (created, claimed) = try await s.store.createAndClaimTasks(
                        [H.newTask(input: "a"), H.newTask(input: "b")], claim: request, now: t)
                    #expect(claimed.isEmpty)
                    for entry in created { #expect(try await s.status(entry.id) == .pending) }
                }
            }
        }
    }
}
