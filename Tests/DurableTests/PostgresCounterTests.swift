import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurablePostgres
import Logging
import PostgresNIO
import Testing

/// PostgreSQL's completion counter orders completions; a worker's cycle claims
/// without waiting for it, so that several workers' claims go on while one of
/// them finishes.
@Suite("PostgreSQL completion counter")
struct PostgresCounterTests {
    @Test("a cycle that finds the counter held claims at once, and finishes its runs once the counter is free, numbered after it")
    func claimWhileCounterHeld() async throws {
        try await StoreFixture.postgres.withStore { s in
            let store = try #require(s.store as? PostgresStore)
            let t = StoreHarness.start
            let base = try await store.latestCompletionSequence()
            let first = try await s.create(input: "1")
            let run = try await s.claimOnly(first)
            let second = try await s.create(input: "2", now: t + 1)

            // Another transaction holds the counter (as a finishing transaction does).
            let gates = Gates()
            let holder = Task {
                try await store.database.client.withConnection { connection in
                    _ = try await connection.query("BEGIN", logger: testLogger)
                    _ = try await connection.query(
                        "SELECT value FROM durable_counters WHERE name = 'completion_seq' FOR UPDATE",
                        logger: testLogger)
                    try await gates.pass("release")
                    _ = try await connection.query("COMMIT", logger: testLogger)
                }
            }
            await gates.waitForArrivals("release")

            let cycle = Task {
                try await store.completeAndClaim(
                    [run.completion(.succeeded(result: "10"))],
                    claim: ClaimRequest(owner: "w1", limit: 10, jobs: ["job"], leaseUntil: t + 30_000),
                    failingExpired: false, now: t + 2)
            }
            // The claim committed while the counter is still held; the run is not finished.
            try await poll("the second task is claimed while the counter is held") {
                try await s.status(second) == .running
            }
            #expect(try await s.status(first) == .running)

            gates.open("release")
            try await holder.value
            let result = try await cycle.value
            #expect(result.claimed.map(\.id) == [second])
            #expect(result.effects.finished.map(\.id) == [first])
            #expect(result.effects.finished.map(\.completionSequence) == [base + 1])
            let record = try await s.record(first)
            #expect(record.status == .succeeded)
            #expect(try await store.latestCompletionSequence() == base + 1)
        }
    }
}
