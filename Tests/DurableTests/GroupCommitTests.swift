@testable import DurableEngine
import DurableTestKit
import Durable
import Foundation
import Synchronization
import Testing

/// Concurrent task creations share a transaction (group commit): the batching
/// rule itself, and the engine's creations on the store of the test run.
@Suite("Group commit of creations")
struct GroupCommitTests {
    /// Records each write's requests; the first write waits at `gate` until opened.
    private final class Writes: Sendable {
        let batches = Mutex<[[Int]]>([])
        let gate = Gates()

        func write(_ requests: [Int]) async -> [Result<Int, any Error>] {
            let first = batches.withLock { batches in
                batches.append(requests)
                return batches.count == 1
            }
            if first { try? await gate.pass("first") }
            return requests.map { $0 < 0 ? .failure(DurableError(.invalidArgument, "negative \($0)")) : .success($0 * 10) }
        }
    }

    @Test("a lone call writes alone at once; calls made while it writes are written together next, each with its result")
    func batching() async throws {
        let writes = Writes()
        let commit = GroupCommit<Int, Int>()
        let first = Task { try await commit.submit(1) { await writes.write($0) } }
        try await eventually("the first write began") { writes.batches.withLock { $0.count } == 1 }
        let queued = (2...6).map { value in Task { try await commit.submit(value == 4 ? -4 : value) { await writes.write($0) } } }
        // Let every queued call reach the queue: nothing writes while the first write waits.
        try await eventually("five calls queued") { commit.queuedCount == 5 }
        writes.gate.open("first")
        #expect(try await first.value == 10)
        for (task, value) in zip(queued, 2...6) {
            if value == 4 {
                await #expect(throws: DurableError.self) { try await task.value }
            } else {
                #expect(try await task.value == value * 10)
            }
        }
        let batches = writes.batches.withLock { $0 }
        #expect(batches.count == 2)
        #expect(batches.first == [1])
        #expect(Set(batches.last ?? []) == [2, 3, -4, 5, 6])
        // Idle again: the next call writes alone.
        #expect(try await commit.submit(7) { await writes.write($0) } == 70)
        #expect(writes.batches.withLock { $0.last } == [7])
    }

    @Test("calls queued behind a write can be taken and answered by another writer; the first writer then finds none")
    func takenByAnotherWriter() async throws {
        let writes = Writes()
        let commit = GroupCommit<Int, Int>()
        #expect(commit.takeQueued() == nil)
        let first = Task { try await commit.submit(1) { await writes.write($0) } }
        try await eventually("the first write began") { writes.batches.withLock { $0.count } == 1 }
        let queued = (2...4).map { value in Task { try await commit.submit(value) { await writes.write($0) } } }
        try await eventually("three calls queued") { commit.queuedCount == 3 }
        let riders = try #require(commit.takeQueued())
        #expect(Set(riders.requests) == [2, 3, 4])
        #expect(commit.queuedCount == 0 && commit.takeQueued() == nil)
        commit.finish(riders, with: riders.requests.map { $0 == 3 ? .failure(DurableError(.keyConflict, "3")) : .success($0 * 100) })
        for (task, value) in zip(queued, 2...4) {
            if value == 3 {
                await #expect(throws: DurableError.self) { try await task.value }
            } else {
                #expect(try await task.value == value * 100)
            }
        }
        writes.gate.open("first")
        #expect(try await first.value == 10)
        // Nothing was left for the first writer to hand on: idle, the next call writes alone.
        #expect(try await commit.submit(5) { await writes.write($0) } == 50)
        #expect(writes.batches.withLock { $0 } == [[1], [5]])
    }

    @Test("concurrent createTask calls all run; one whose key is taken with another input fails alone")
    func concurrentCreations() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let taken = try await engine.createTask(Echo.self, "original", key: "taken")
        let results = await withTaskGroup(of: (Int, Result<String, any Error>).self) { group in
            for index in 0..<50 {
                group.addTask {
                    do {
                        let task = try await engine.createTask(
                            Echo.self, "value \(index)", key: index == 17 ? "taken" : "call-\(index)")
                        return (index, .success(try await engine.record(of: task.id).input))
                    } catch {
                        return (index, .failure(error))
                    }
                }
            }
            var results: [Int: Result<String, any Error>] = [:]
            for await (index, result) in group { results[index] = result }
            return results
        }
        for index in 0..<50 {
            if index == 17 {
                #expect((try? results[index]?.get()) == nil, "the call with the taken key fails")
            } else {
                #expect(try results[index]?.get() == "\"value \(index)\"")
            }
        }
        #expect(try await engine.record(of: taken.id).input == "\"original\"")
        let stored = try await engine.tasks(matching: TaskQuery(job: Echo.name, limit: 1000))
        #expect(stored.count == 50, "the first task and 49 of the 50 calls'")
        let values = try await engine.run { engine in
            try await engine.gather(stored.map { DurableTask<String>(id: $0.id, engine: engine) })
        }
        #expect(values.count == 50)
        try engine.close()
    }
}
