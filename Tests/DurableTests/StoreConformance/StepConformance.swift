import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Checkpoints: stored by the run that owns the task, read back by position,
    /// kept across runs.
    @Suite("Steps")
    struct Steps {
        typealias H = StoreHarness

        @Test("stored steps come back by position, whatever order they were stored in, and outlive the run",
              arguments: StoreFixture.all)
        func byPosition(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create(input: "1")
                let neighbour = try await s.create(input: "2")
                let runs = Dictionary(uniqueKeysWithValues: try await s.claim().map { ($0.id, $0) })
                let first = try #require(runs[id])
                let a = first.attempt
                let steps = [
                    StoredStep(
                        position: 2, name: "fetch", occurrence: 1, kind: .step, status: .succeeded, result: "\"two\"",
                        error: nil, attempt: a),
                    StoredStep(
                        position: 0, name: "fetch", occurrence: 0, kind: .step, status: .failed, result: nil,
                        error: H.failure("gone"), attempt: a),
                    StoredStep(
                        position: 1, name: "nap", occurrence: 0, kind: .sleep, status: .succeeded,
                        result: String(t + 5_000), error: nil, attempt: a),
                ]
                for step in steps {
                    #expect(try await s.store.recordStep(step, of: id, owner: "w1", attempt: a, now: t + 1))
                }
                #expect(try await s.store.steps(of: id) == steps.sorted { $0.position < $1.position })
                #expect(try await s.store.steps(of: neighbour).isEmpty)

                // A later run finds them and adds its own.
                try await s.complete(first, .released(H.interruption()), now: t + 2)
                let second = try await s.claimOnly(id, now: t + 3)
                let added = StoredStep(
                    position: 3, name: "save", occurrence: 0, kind: .step, status: .succeeded, result: "null",
                    error: nil, attempt: second.attempt)
                #expect(try await s.store.recordStep(added, of: id, owner: "w1", attempt: second.attempt, now: t + 4))
                let stored = try await s.store.steps(of: id)
                #expect(stored.map(\.position) == [0, 1, 2, 3])
                #expect(stored.last == added)
                #expect(stored.map(\.attempt) == [a, a, a, second.attempt])
            }
        }

        @Test("a run whose task was recovered and claimed by another worker cannot store a step",
              arguments: StoreFixture.all)
        func staleRun(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                let old = try await s.claimOnly(id, owner: "w1", leaseUntil: t + 100)
                func step(_ position: Int, attempt: Int) -> StoredStep {
                    StoredStep(
                        position: position, name: "s\(position)", occurrence: 0, kind: .step, status: .succeeded,
                        result: String(position), error: nil, attempt: attempt)
                }
                #expect(try await s.store.recordStep(step(0, attempt: old.attempt), of: id, owner: "w1",
                                                     attempt: old.attempt, now: t + 1))
                #expect(try await s.store.recoverTasks(deadOwners: [], now: t + 200).requeued == [id])
                // Handed back: the old run may store nothing, neither pending nor after the new claim.
                #expect(try await s.store.recordStep(step(1, attempt: old.attempt), of: id, owner: "w1",
                                                     attempt: old.attempt, now: t + 201) == false)
                let new = try await s.claimOnly(id, owner: "w2", now: t + 202)
                #expect(try await s.store.recordStep(step(1, attempt: old.attempt), of: id, owner: "w1",
                                                     attempt: old.attempt, now: t + 203) == false)
                #expect(try await s.store.recordStep(step(1, attempt: new.attempt), of: id, owner: "w1",
                                                     attempt: new.attempt, now: t + 203) == false)
                #expect(try await s.store.recordStep(step(1, attempt: old.attempt), of: id, owner: "w2",
                                                     attempt: old.attempt, now: t + 203) == false)
                #expect(try await s.store.steps(of: id) == [step(0, attempt: old.attempt)])
                #expect(try await s.store.recordStep(step(1, attempt: new.attempt), of: id, owner: "w2",
                                                     attempt: new.attempt, now: t + 204))
                #expect(try await s.store.steps(of: id).map(\.position) == [0, 1])
            }
        }
    }
}
