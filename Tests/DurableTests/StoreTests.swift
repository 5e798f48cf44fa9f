@testable import Durable
import Foundation
import Testing

/// Store-level properties that the engine's API does not show.
@Suite("SQLite store")
struct StoreTests {
    @Test("the writer connection runs at the configured durability (FULL by default, NORMAL when asked)")
    func durabilityLevel() async throws {
        let directory = TemporaryDirectory()
        let full = try makeEngine(in: directory, file: "full.sqlite")
        let normal = try makeEngine(in: directory, file: "normal.sqlite") { $0.durability = .processCrashSafe }
        #expect(try await (full.store as? SQLiteStore)?.writerSynchronousLevel() == 2)
        #expect(try await (normal.store as? SQLiteStore)?.writerSynchronousLevel() == 1)
        // A claim-only commit is relaxed (not synced on its own); FULL is back after it.
        _ = try await full.createTask(Doubler.self, 1)
        let now = SystemClock().now() + 1_000
        let cycle = try await full.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 1, jobs: ["double"], leaseUntil: now + 1_000), now: now)
        #expect(cycle.claimed.count == 1)
        #expect(try await (full.store as? SQLiteStore)?.writerSynchronousLevel() == 2)
    }

    @Test("a claim takes due tasks of the given jobs in priority, then creation order, and no others")
    func claimOrder() async throws {
        let directory = TemporaryDirectory()
        let engine = try makeEngine(in: directory)
        let low = try await engine.createTask(Doubler.self, 1)
        let high = try await engine.createTask(Doubler.self, 2, options: TaskOptions(priority: 5))
        let other = try await engine.createTask(Echo.self, "not claimed")
        let later = try await engine.createTask(Doubler.self, 3)
        let now = SystemClock().now() + 1_000
        let cycle = try await engine.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 2, jobs: ["double"], leaseUntil: now + 1_000), now: now)
        #expect(Set(cycle.claimed.map(\.id)) == [high.id, low.id])
        let rest = try await engine.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 10, jobs: ["double"], leaseUntil: now + 1_000), now: now)
        #expect(rest.claimed.map(\.id) == [later.id])
        #expect(try await other.status() == .pending)
    }

    @Test("many completions commit in one cycle, each with its own attempt row and completion number")
    func groupCommit() async throws {
        let directory = TemporaryDirectory()
        let engine = try makeEngine(in: directory)
        let tasks = try await engine.createTasks(Doubler.self, inputs: Array(0..<200))
        let now = SystemClock().now() + 1_000
        let claimed = try await engine.store.completeAndClaim(
            [], claim: ClaimRequest(owner: "w", limit: 500, jobs: ["double"], leaseUntil: now + 1_000), now: now
        ).claimed
        #expect(claimed.count == 200)
        let completions = claimed.map {
            TaskCompletion(id: $0.id, owner: "w", attempt: $0.attempt, startedAt: now, ending: .succeeded(result: "0"))
        }
        let cycle = try await engine.store.completeAndClaim(completions, claim: nil, now: now + 1)
        #expect(cycle.effects.finished.count == 200)
        #expect(Set(cycle.effects.finished.map(\.completionSequence)).count == 200)
        #expect(try await engine.wait(tasks).pending.isEmpty)
    }

    @Test("integers and plain strings are stored as JSONEncoder would write them, and read back")
    func jsonFastPath() throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        for number in [0, -1, 42, Int.max, Int.min] {
            let text = try StoredJSON.encode(number)
            #expect(text == String(decoding: try encoder.encode(number), as: UTF8.self))
            #expect(try StoredJSON.decode(Int.self, from: text) == number)
        }
        for string in ["", "plain", "héllo wörld", "a/b", "quote \" inside", "back\\slash", "tab\tnew\nline", "\u{7F}"] {
            let text = try StoredJSON.encode(string)
            #expect(text == String(decoding: try encoder.encode(string), as: UTF8.self))
            #expect(try StoredJSON.decode(String.self, from: text) == string)
        }
        #expect(try StoredJSON.decode(Int.self, from: "5.0") == 5)
    }
}
