@testable import DurableEngine
import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// Creations queued behind one being written ride in the worker's next commit
/// (SQLite: one transaction for both). The moment is made certain without
/// timing: another connection holds the file's write lock, so the first
/// creation waits to write and the next ones queue behind it; a run that ends
/// then makes the worker commit, and its commit takes the queued calls.
@Suite("Creations riding in the worker's commit", .enabled(if: TestStore.isSQLite, "SQLite only: the file's write lock"))
struct CreationRideTests {
    /// Holds the write lock, queues `keys.count` creations behind a blocked one,
    /// lets a run end so that the worker's commit takes them, then lets go.
    /// Returns each queued call's result, the blocked creation's task and the run's.
    private func ride(keys: [String], on engine: TaskEngine, in directory: TemporaryDirectory, gates: Gates)
        async throws -> (results: [Result<DurableTask<String>, any Error>], first: DurableTask<String>, gated: DurableTask<String>)
    {
        try await engine.run { engine in
            let gated = try await engine.createTask(WaitAtGate.self, "ride")
            await gates.waitForArrivals("ride")
            // The lock is held only while the worker has no commit under way or
            // due (a claim after the run's start, say): such a commit would wait
            // for the lock before the queued calls are there to take.
            let worker = try #require(engine.currentWorker)
            let quiet: @Sendable () -> Bool = {
                worker.state.withLock { state in
                    let decisions = state.decisions
                    return !decisions.claiming && decisions.committing.isEmpty
                        && decisions.workGeneration == decisions.claimedGeneration
                }
            }
            var holding = Configuration()
            holding.allowsUnsafeTransactions = true
            // The worker may be committing when the lock is asked for.
            holding.busyMode = .timeout(30)
            let holder = try DatabaseQueue(path: directory.file("test.sqlite"), configuration: holding)
            var held = false
            for _ in 0..<50 where !held {
                try await eventually("the worker has nothing to commit") { quiet() }
                try await holder.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
                held = quiet()
                if !held { try await holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") } }
            }
            try #require(held, "the lock held while the worker is quiet")
            let first = Task { try await engine.createTask(Echo.self, "first") }
            try await eventually("the first creation is being written") { engine.creations.isWriting }
            let queued = keys.map { key in
                Task { try await engine.createTask(Echo.self, "value of \(key)", key: key) }
            }
            try await eventually("\(keys.count) creations queued behind the first") {
                engine.creations.queuedCount == keys.count
            }
            // The run ends: the worker's commit takes the queued calls with it.
            gates.open("ride")
            try await eventually("the worker's commit took the queued creations") {
                engine.creations.queuedCount == 0
            }
            try await holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
            try holder.close()
            var results: [Result<DurableTask<String>, any Error>] = []
            for task in queued { results.append(await task.result) }
            return (results, try await first.value, gated)
        }
    }

    @Test("the queued creations commit with the worker's commit and run once each, as do the blocked one and the ended run")
    func ridesAlong() async throws {
        let (directory, gates) = (TemporaryDirectory(), Gates())
        let engine = try await makeTestEngine(in: directory, gates: gates)
        let keys = (0..<5).map { "k\($0)" }
        let (results, first, gated) = try await ride(keys: keys, on: engine, in: directory, gates: gates)
        let values = try await engine.run { engine in
            try await engine.gather(try results.map { try $0.get() })
        }
        #expect(values == keys.map { "value of \($0)" })
        #expect(try await engine.run { _ in try await first.value } == "first")
        #expect(try await engine.record(of: gated.id).status == .succeeded)
        let stored = try await engine.tasks(matching: TaskQuery(job: Echo.name, limit: 100))
        #expect(stored.count == keys.count + 1)
        #expect(stored.allSatisfy { $0.status == .succeeded })
        try engine.close()
    }

    @Test("a queued creation whose key is taken with another input fails alone; the others and the worker's commit go through")
    func conflictFailsAlone() async throws {
        let (directory, gates) = (TemporaryDirectory(), Gates())
        let engine = try await makeTestEngine(in: directory, gates: gates)
        // Not due during the test: the worker has nothing else to commit.
        _ = try await engine.createTask(Echo.self, "original", key: "taken", options: TaskOptions(delay: .seconds(3600)))
        let (results, first, gated) = try await ride(keys: ["a", "taken", "b"], on: engine, in: directory, gates: gates)
        #expect(throws: DurableError.self) { try results[1].get() }
        let values = try await engine.run { engine in
            try await engine.gather([try results[0].get(), try results[2].get()])
        }
        #expect(values == ["value of a", "value of b"])
        #expect(try await engine.run { _ in try await first.value } == "first")
        #expect(try await engine.record(of: gated.id).status == .succeeded)
        let taken = try await engine.tasks(matching: TaskQuery(job: Echo.name, limit: 100)).filter { $0.key == "taken" }
        #expect(taken.map(\.input) == ["\"original\""])
        try engine.close()
    }
}
