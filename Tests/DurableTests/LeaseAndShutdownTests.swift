import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import Testing

/// Leases, heartbeats, recovery of abandoned tasks and graceful shutdown, driven
/// by a manual clock (no test waits for real time to pass).
@Suite("Leases, recovery and shutdown")
struct LeaseAndShutdownTests {
    /// Waits until the worker's heartbeat and recovery loops sleep on the clock, so
    /// that advancing it wakes them.
    private func workerTimersArmed(_ clock: ManualClock) async throws {
        while clock.sleeperCount < 2 { try await Task.sleep(for: .milliseconds(1)) }
    }

    /// Claims `id` for a worker of another host, as if that host had crashed.
    private func claimForForeignWorker(_ engine: TaskEngine, now: Int64) async throws -> String {
        let store = engine.store
        let owner = "other-host:4242:abc"
        try await store.registerWorker(
            WorkerInfo(
                id: owner, host: "other-host", bootID: "b/pid:[1]", pid: 4242, processStart: "1", concurrency: 1,
                jobs: ["double"]),
            now: now, leaseUntil: now + 30_000)
        let cycle = try await store.completeAndClaim(
            [], claim: ClaimRequest(owner: owner, limit: 1, jobs: nil, leaseUntil: now + 30_000), now: now)
        #expect(cycle.claimed.count == 1)
        return owner
    }

    @Test("a task of a worker on another host is taken over only when its lease expires")
    func leaseExpiry() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        let task = try await engine.createTask(Doubler.self, 21)
        let owner = try await claimForForeignWorker(engine, now: clock.now())

        try await engine.run { engine async throws -> Void in
            // At start the lease is valid: the task stays with its owner.
            try await workerTimersArmed(clock)
            #expect(try await task.status() == .running)
            #expect(try await engine.record(of: task.id).owner == owner)
            // 31 s later the recovery loop (every 5 s) finds the lease expired.
            clock.advance(by: .seconds(31))
            #expect(try await task.value == 42)
        }
        let record = try await engine.record(of: task.id)
        #expect(record.attempt == 2)
        let attempts = try await attemptOutcomes(directory)
        #expect(attempts.count == 2)
        #expect(attempts.first == "1:abandoned:\(owner)")
        #expect(attempts.last?.hasPrefix("2:succeeded:") == true)
    }

    @Test("a same-host worker whose process is gone is taken over at once, without waiting for its lease")
    func deadOwnerAtOnce() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        let task = try await engine.createTask(Doubler.self, 5)
        let me = ProcessIdentity.current
        let owner = "\(me.host):999999:dead"
        let now = clock.now()
        try await engine.store.registerWorker(
            WorkerInfo(
                id: owner, host: me.host, bootID: me.bootID, pid: Int32.max - 11, processStart: "1", concurrency: 1,
                jobs: ["double"]),
            now: now, leaseUntil: now + 30_000)
        _ = try await engine.store.completeAndClaim(
            [], claim: ClaimRequest(owner: owner, limit: 1, jobs: nil, leaseUntil: now + 30_000), now: now)
        try await engine.run { _ async throws -> Void in
            // The clock never moves: only the dead pid lets the task go.
            #expect(try await task.value == 10)
        }
        #expect(try await attemptOutcomes(directory).first == "1:abandoned:\(owner)")
    }

    @Test("heartbeats renew the leases of running tasks, so a long task is not taken over")
    func heartbeats() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates) { $0.clock = clock }
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(WaitAtGate.self, "long")
            await gates.waitForArrivals("long")
            let firstLease = try #require(try await engine.record(of: task.id).leaseExpiresAt)
            for round in 1...4 {
                try await workerTimersArmed(clock)
                clock.advance(by: .seconds(10))
                try await eventually("lease renewed in round \(round)") {
                    (try await engine.record(of: task.id).leaseExpiresAt ?? 0) >= firstLease + Int64(round) * 10_000
                }
            }
            // 40 s after the claim, well past the first 30 s lease: still ours, still attempt 1.
            let record = try await engine.record(of: task.id)
            #expect(record.status == .running)
            #expect(record.attempt == 1)
            gates.open("long")
            #expect(try await task.value == "long")
        }
        #expect(try await attemptOutcomes(directory).count == 1)
    }

    @Test("a fenced completion from a worker that lost the task is refused")
    func staleCompletionRefused() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let store = engine.store
        let task = try await engine.createTask(Doubler.self, 1)
        let now = SystemClock().now() + 1_000
        let first = try await store.completeAndClaim(
            [], claim: ClaimRequest(owner: "A", limit: 1, jobs: nil, leaseUntil: now + 10), now: now)
        // A's lease expires; B takes the task over.
        _ = try await store.recoverTasks(deadOwners: [], now: now + 20)
        let second = try await store.completeAndClaim(
            [], claim: ClaimRequest(owner: "B", limit: 1, jobs: nil, leaseUntil: now + 100_000), now: now + 20)
        #expect(second.claimed.first?.attempt == 2)
        let claimA = try #require(first.claimed.first)
        let late = try await store.completeAndClaim(
            [TaskCompletion(id: task.id, owner: "A", attempt: claimA.attempt, startedAt: now, ending: .succeeded(result: "999"))],
            claim: nil, now: now + 30)
        #expect(late.stale == [task.id])
        #expect(try await task.status() == .running)
        let claimB = try #require(second.claimed.first)
        let onTime = try await store.completeAndClaim(
            [TaskCompletion(id: task.id, owner: "B", attempt: claimB.attempt, startedAt: now + 20, ending: .succeeded(result: "2"))],
            claim: nil, now: now + 40)
        #expect(onTime.stale.isEmpty)
        #expect(try await task.result() == 2)
    }

    @Test("a graceful shutdown hands a running task back as pending; the next run finishes it")
    func shutdownHandsBack() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        let task = try await engine.run { engine in
            let task = try await engine.createTask(WaitAtGate.self, "interrupted")
            await gates.waitForArrivals("interrupted")
            return task
        }
        #expect(try await task.status() == .pending)
        #expect(try await attemptOutcomes(directory) == ["1:interrupted:\(try await workerIDs(directory)[0])"])
        gates.open("interrupted")
        try await engine.run { _ async throws -> Void in #expect(try await task.value == "interrupted") }
        #expect(try await engine.record(of: task.id).attempt == 2)
    }

    @Test("during the grace period running tasks may finish; they are stored as succeeded")
    func shutdownGracePeriod() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory, gates: gates) {
            $0.clock = clock
            $0.gracefulShutdownTimeout = .seconds(30)
        }
        let task = try await engine.run { engine in
            let task = try await engine.createTask(WaitAtGate.self, "finishing")
            await gates.waitForArrivals("finishing")
            let sleepers = clock.sleeperCount
            // Once the grace timer is armed (after this closure returns), let the task finish.
            Task {
                await waitForSleeper(on: clock, moreThan: sleepers)
                gates.open("finishing")
            }
            return task
        }
        #expect(try await task.status() == .succeeded)
        #expect(try await engine.record(of: task.id).attempt == 1)
    }

    private func attemptOutcomes(_ directory: TemporaryDirectory) async throws -> [String] {
        try await StoreProbe.read(
            directory.file("test.sqlite"), "SELECT attempt || ':' || outcome || ':' || owner FROM task_attempts ORDER BY task_id, attempt")
    }

    private func workerIDs(_ directory: TemporaryDirectory) async throws -> [String] {
        try await StoreProbe.read(directory.file("test.sqlite"), "SELECT id FROM workers ORDER BY started_at")
    }
}
