import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Task groups: the first failure shuts the group down and cancels its
    /// unfinished tasks in the same commit; a shut down or finished group takes no
    /// more tasks.
    @Suite("Groups")
    struct Groups {
        typealias H = StoreHarness

        @Test("the first failure in a group cancels its unfinished siblings in the same commit",
              arguments: StoreFixture.all)
        func firstFailureCancelsSiblings(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let group = try await s.store.createGroup(name: "g", key: nil, now: t)
                let other = try await s.store.createGroup(name: nil, key: nil, now: t)
                let failing = try await s.create(input: "1", groupID: group.id)
                let running = try await s.create(input: "2", groupID: group.id)
                let done = try await s.create(input: "3", groupID: group.id)
                let runs = Dictionary(uniqueKeysWithValues: try await s.claim(owner: "w1").map { ($0.id, $0) })
                #expect(Set(runs.keys) == [failing, running, done])
                try await s.complete(try #require(runs[done]), .succeeded(result: "3"), now: t + 1)
                let doneBefore = try await s.record(done)
                let waiting = try await s.create(input: "4", groupID: group.id, now: t + 2)
                let elsewhere = try await s.create(input: "5", groupID: other.id, now: t + 2)
                let ungrouped = try await s.create(input: "6", now: t + 2)

                let result = try await s.complete(try #require(runs[failing]), .failed(H.failure()), now: t + 10)
                #expect(result.stale.isEmpty)
                // In the same commit: the failure, and the pending sibling cancelled.
                #expect(result.effects.finished.map(\.id) == [failing, waiting])
                let cancelled = try #require(result.effects.finished.last)
                #expect(cancelled.status == .cancelled)
                #expect(cancelled.error?.kind == .cancelled)
                #expect(cancelled.completionSequence == result.effects.finished[0].completionSequence + 1)
                #expect(try await s.status(waiting) == .cancelled)
                // The running sibling is asked to stop; its owner is told.
                #expect(result.effects.cancelRequests.map(\.id) == [running])
                #expect(result.effects.cancelRequests.first?.owner == "w1")
                #expect(try await s.status(running) == .running)
                #expect(try await s.record(running).cancelRequestedAt != nil)
                #expect(try await s.cancelRequests(owner: "w1").keys.sorted() == [running])
                // The group is shutting down, for that failure; nothing outside it changed.
                let stored = try #require(try await s.store.group(group.id))
                #expect(stored.state == .shuttingDown)
                #expect(stored.failedTaskID == failing)
                #expect(try await s.record(done) == doneBefore)
                #expect(try await s.status(elsewhere) == .pending)
                #expect(try await s.status(ungrouped) == .pending)
                #expect(try await s.store.group(other.id)?.state == .open)
                await #expect { try await s.create(groupID: group.id, now: t + 11) } throws: {
                    DurableError.Code.groupNotOpen.matches($0)
                }
            }
        }

        @Test("a later failure in the group cancels nothing more and keeps the first failed task",
              arguments: StoreFixture.all)
        func laterFailure(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let group = try await s.store.createGroup(name: "g", key: nil, now: t)
                var ids: [TaskID] = []
                for input in ["1", "2", "3"] { ids.append(try await s.create(input: input, groupID: group.id)) }
                let runs = Dictionary(uniqueKeysWithValues: try await s.claim().map { ($0.id, $0) })
                let first = try await s.complete(try #require(runs[ids[0]]), .failed(H.failure("first")), now: t + 1)
                #expect(Set(first.effects.cancelRequests.map(\.id)) == [ids[1], ids[2]])

                let second = try await s.complete(try #require(runs[ids[1]]), .failed(H.failure("second")), now: t + 2)
                #expect(second.effects.finished.map(\.id) == [ids[1]])
                #expect(second.effects.finished.first?.status == .failed)
                #expect(second.effects.cancelRequests.isEmpty)
                #expect(try await s.store.group(group.id)?.failedTaskID == ids[0])
                #expect(try await s.store.group(group.id)?.state == .shuttingDown)
                #expect(try await s.status(ids[2]) == .running)
            }
        }

        @Test("a run that fails and is retried, or is handed back, does not shut its group down",
              arguments: StoreFixture.all)
        func retryIsNoGroupFailure(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let group = try await s.store.createGroup(name: "g", key: nil, now: t)
                let retried = try await s.create(input: "1", groupID: group.id)
                let released = try await s.create(input: "2", groupID: group.id)
                let sibling = try await s.create(input: "3", runAt: t + 60_000, groupID: group.id)
                let runs = Dictionary(uniqueKeysWithValues: try await s.claim().map { ($0.id, $0) })
                let result = try await s.complete(
                    [
                        try #require(runs[retried]).completion(.retry(H.failure(), runAt: t + 1_000)),
                        try #require(runs[released]).completion(.released(H.interruption())),
                    ], now: t + 1)
                #expect(result.stale.isEmpty)
                #expect(result.effects.finished.isEmpty)
                #expect(result.effects.cancelRequests.isEmpty)
                #expect(try await s.store.group(group.id)?.state == .open)
                for id in [retried, released, sibling] { #expect(try await s.status(id) == .pending) }
            }
        }

        @Test("shutDownGroup cancels the unfinished tasks: pending ones at once, running ones by request",
              arguments: StoreFixture.all)
        func shutDown(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let group = try await s.store.createGroup(name: nil, key: "k", now: t)
                let running = try await s.create(input: "1", groupID: group.id)
                let done = try await s.create(input: "2", groupID: group.id)
                let runs = Dictionary(uniqueKeysWithValues: try await s.claim(owner: "w1").map { ($0.id, $0) })
                try await s.complete(try #require(runs[done]), .succeeded(result: "2"), now: t + 1)
                let doneBefore = try await s.record(done)
                let pending = try await s.create(input: "3", groupID: group.id, now: t + 2)

                let effects = try await s.store.shutDownGroup(group.id, message: "enough", now: t + 3)
                #expect(effects.finished.map(\.id) == [pending])
                #expect(effects.finished.first?.status == .cancelled)
                #expect(effects.finished.first?.cancelMessage == "enough")
                #expect(effects.cancelRequests == [RequestedCancel(id: running, owner: "w1", message: "enough")])
                #expect(try await s.status(pending) == .cancelled)
                #expect(try await s.status(running) == .running)
                #expect(try await s.cancelRequests(owner: "w1") == [running: "enough"])
                #expect(try await s.record(done) == doneBefore)
                let stored = try #require(try await s.store.group(group.id))
                #expect(stored.state == .shuttingDown)
                #expect(stored.failedTaskID == nil)
                await #expect { try await s.create(input: "4", groupID: group.id, now: t + 4) } throws: {
                    DurableError.Code.groupNotOpen.matches($0)
                }
                // Shutting down again does nothing.
                let again = try await s.store.shutDownGroup(group.id, message: "again", now: t + 5)
                #expect(again.finished.isEmpty)
                #expect(again.cancelRequests.isEmpty)
            }
        }

        @Test("finishGroup refuses while tasks are unfinished, naming them; then finishes the group",
              arguments: StoreFixture.all)
        func finish(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let group = try await s.store.createGroup(name: "g", key: nil, now: t)
                let running = try await s.create(input: "1", groupID: group.id)
                let run = try await s.claimOnly(running)
                let pending = try await s.create(input: "2", groupID: group.id, now: t + 1)

                #expect(try await s.store.finishGroup(group.id, now: t + 2).sorted() == [running, pending])
                #expect(try await s.store.group(group.id)?.state == .open)
                // Still open: it takes tasks.
                let added = try await s.create(input: "3", groupID: group.id, now: t + 3)
                #expect(try await s.store.groupTasks(group.id) == [running, pending, added])

                try await s.complete(run, .succeeded(result: "1"), now: t + 4)
                _ = try await s.store.requestCancel(of: pending, message: nil, now: t + 4)
                #expect(try await s.store.finishGroup(group.id, now: t + 5) == [added])
                _ = try await s.store.requestCancel(of: added, message: nil, now: t + 6)
                #expect(try await s.store.finishGroup(group.id, now: t + 7) == [])
                #expect(try await s.store.group(group.id)?.state == .finished)
                await #expect { try await s.create(input: "4", groupID: group.id, now: t + 8) } throws: {
                    DurableError.Code.groupNotOpen.matches($0)
                }
                #expect(try await s.store.groupTasks(group.id) == [running, pending, added])
            }
        }
    }
}
