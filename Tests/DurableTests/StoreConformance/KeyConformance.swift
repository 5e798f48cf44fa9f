import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Idempotency keys: a key names one task, whatever its job; reusing it for the
    /// same job and input returns that task, anything else is a key conflict.
    @Suite("Keys")
    struct Keys {
        typealias H = StoreHarness

        @Test("creating with an existing key returns the existing task (existed), within a batch and once finished",
              arguments: StoreFixture.all)
        func existing(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let first = try await s.store.createTasks([H.newTask(input: "1", key: "k")], now: t)
                #expect(first.map(\.existed) == [false])
                let id = first[0].id

                let batch = [
                    H.newTask(input: "1", key: "k"), H.newTask(input: "2", key: "k2"), H.newTask(input: "2", key: "k2"),
                ]
                let again = try await s.store.createTasks(batch, now: t + 1)
                #expect(again.map(\.existed) == [true, false, true])
                #expect(again[0] == CreatedTask(id: id, name: first[0].name, job: "job", existed: true))
                #expect(again[2].id == again[1].id)
                #expect(again[1].id != id)
                #expect(try await s.ids(ofJob: "job") == [id, again[1].id])

                let runs = try await s.claim(now: t + 1)
                #expect(runs.map(\.id).sorted() == [id, again[1].id])
                let run = try #require(runs.first { $0.id == id })
                try await s.complete(run, .succeeded(result: "1"), now: t + 2)
                let finished = try await s.store.createTasks([H.newTask(input: "1", key: "k")], now: t + 3)
                #expect(finished.map(\.id) == [id])
                #expect(finished.map(\.existed) == [true])
                #expect(try await s.status(id) == .succeeded)
                #expect(try await s.ids(ofJob: "job").count == 2)
            }
        }

        @Test("a key reused with a different input is a keyConflict, and nothing of that batch is stored",
              arguments: StoreFixture.all)
        func differentInput(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create(input: "1", key: "k")
                await #expect {
                    try await s.store.createTasks(
                        [H.newTask(input: "9"), H.newTask(input: "2", key: "k"), H.newTask(input: "8")], now: t + 1)
                } throws: {
                    DurableError.Code.keyConflict.matches($0)
                }
                #expect(try await s.ids(ofJob: "job") == [id])
                #expect(try await s.record(id).input == "1")
            }
        }

        @Test("keys are global across jobs: a key reused for another job is a keyConflict",
              arguments: StoreFixture.all)
        func acrossJobs(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create(job: "a", input: "1", key: "k")
                await #expect { try await s.create(job: "b", input: "1", key: "k", now: t + 1) } throws: {
                    DurableError.Code.keyConflict.matches($0)
                }
                await #expect {
                    try await s.store.createAndClaimTasks(
                        [H.newTask(job: "b", input: "1", key: "k")],
                        claim: ClaimRequest(owner: "w1", limit: 1, jobs: nil, leaseUntil: t + H.lease), now: t + 1)
                } throws: {
                    DurableError.Code.keyConflict.matches($0)
                }
                #expect(try await s.ids(ofJob: "b").isEmpty)
                #expect(try await s.ids(ofJob: "a") == [id])
                // Another key is free for either job.
                #expect(try await s.store.createTasks([H.newTask(job: "b", input: "1", key: "k2")], now: t + 2)
                    .map(\.existed) == [false])
            }
        }
    }
}
