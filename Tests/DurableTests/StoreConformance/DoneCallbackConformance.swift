import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Testing

extension StoreConformance {
    /// Durable done callbacks: each one's task is created once, in the commit that
    /// finishes the task it watches (or at once, when that task already finished).
    @Suite("Done callbacks")
    struct DoneCallbacks {
        typealias H = StoreHarness

        @Test("a completion creates each callback's task once, in the commit that finishes the task",
              arguments: StoreFixture.all)
        func createdOnCompletion(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                try await s.store.addDoneCallback(to: id, job: "notify", input: "\"a\"", now: t)
                try await s.store.addDoneCallback(to: id, job: "audit", input: "2", now: t)
                try await s.store.addDoneCallback(to: id, job: "notify", input: "\"b\"", now: t)
                #expect(try await s.store.callbacks(of: id).allSatisfy { $0.callbackTaskID == nil })
                #expect(try await s.ids(ofJob: "notify").isEmpty)

                let run = try await s.claimOnly(id)
                let result = try await s.complete(run, .succeeded(result: "1"), now: t + 10)
                #expect(result.effects.createdTasks == 3)
                let callbacks = try await s.store.callbacks(of: id)
                #expect(callbacks.map(\.job) == ["notify", "audit", "notify"])
                #expect(callbacks.map(\.input) == ["\"a\"", "2", "\"b\""])
                let created = callbacks.compactMap(\.callbackTaskID)
                #expect(created.count == 3)
                #expect(Set(created).count == 3)
                for (callback, taskID) in zip(callbacks, created) {
                    let record = try await s.record(taskID)
                    #expect(record.job == callback.job)
                    #expect(record.input == callback.input)
                    #expect(record.callbackOf == id)
                    #expect(record.status == .pending)
                    #expect(record.runAt <= t + 10)
                }
                #expect(try await s.ids(ofJob: "notify").count == 2)
                #expect(try await s.ids(ofJob: "audit").count == 1)
            }
        }

        @Test("a stale or replayed completion creates no callback task; the owner's completion creates it once",
              arguments: StoreFixture.all)
        func exactlyOnce(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                try await s.store.addDoneCallback(to: id, job: "notify", input: "1", now: t)
                let run = try await s.claimOnly(id, owner: "w1")
                let forged = try await s.complete([run.completion(.failed(H.failure()), owner: "w2")], now: t + 1)
                #expect(forged.stale == [id])
                #expect(forged.effects.createdTasks == 0)
                #expect(try await s.ids(ofJob: "notify").isEmpty)

                let own = try await s.complete(run, .succeeded(result: "1"), now: t + 2)
                #expect(own.effects.createdTasks == 1)
                for now in [t + 3, t + 4] {
                    let replay = try await s.complete(run, .succeeded(result: "1"), now: now)
                    #expect(replay.stale == [id])
                    #expect(replay.effects.createdTasks == 0)
                }
                let tasks = try await s.ids(ofJob: "notify")
                #expect(tasks.count == 1)
                #expect(try await s.store.callbacks(of: id).compactMap(\.callbackTaskID) == tasks)
            }
        }

        @Test("a task finished without a run (cancelled while pending, or at its deadline) creates its callbacks",
              arguments: StoreFixture.all)
        func finishedWithoutRun(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let cancelled = try await s.create(input: "1", runAt: t + 60_000)
                let expired = try await s.create(input: "2", runAt: t + 60_000, deadline: t + 100)
                try await s.store.addDoneCallback(to: cancelled, job: "notify", input: "1", now: t)
                try await s.store.addDoneCallback(to: expired, job: "notify", input: "2", now: t)

                let (result, effects) = try await s.store.requestCancel(of: cancelled, message: nil, now: t + 1)
                #expect(result == .cancelledPending)
                #expect(effects.createdTasks == 1)
                let deadline = try await s.store.expireDeadlines(now: t + 200)
                #expect(deadline.finished.map(\.id) == [expired])
                #expect(deadline.createdTasks == 1)

                let tasks = try await s.ids(ofJob: "notify")
                #expect(tasks.count == 2)
                var watched: [TaskID?] = []
                for task in tasks { watched.append(try await s.record(task).callbackOf) }
                #expect(Set(watched) == [cancelled, expired])
            }
        }

        @Test("addDoneCallback on a finished task creates the callback task at once; on an unknown task it throws",
              arguments: StoreFixture.all)
        func addedAfterFinish(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                let run = try await s.claimOnly(id)
                try await s.complete(run, .failed(H.failure()), now: t + 1)

                try await s.store.addDoneCallback(to: id, job: "notify", input: "\"late\"", now: t + 5)
                let callbacks = try await s.store.callbacks(of: id)
                #expect(callbacks.count == 1)
                let created = try #require(callbacks.first?.callbackTaskID)
                let record = try await s.record(created)
                #expect(record.job == "notify")
                #expect(record.input == "\"late\"")
                #expect(record.callbackOf == id)
                #expect(record.status == .pending)
                #expect(try await s.claim(jobs: ["notify"], now: t + 5).map(\.id) == [created])
                #expect(try await s.ids(ofJob: "notify") == [created])

                await #expect {
                    try await s.store.addDoneCallback(to: 999_999, job: "notify", input: "1", now: t)
                } throws: {
                    DurableError.Code.unknownTask.matches($0)
                }
            }
        }

        @Test("removeDoneCallbacks removes a job's callbacks not yet run, and the completion creates only the rest",
              arguments: StoreFixture.all)
        func remove(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let id = try await s.create()
                try await s.store.addDoneCallback(to: id, job: "notify", input: "1", now: t)
                try await s.store.addDoneCallback(to: id, job: "audit", input: "2", now: t)
                try await s.store.addDoneCallback(to: id, job: "notify", input: "3", now: t)
                #expect(try await s.store.removeDoneCallbacks(from: id, job: "notify") == 2)
                #expect(try await s.store.removeDoneCallbacks(from: id, job: "notify") == 0)
                #expect(try await s.store.callbacks(of: id).map(\.job) == ["audit"])

                let run = try await s.claimOnly(id)
                let result = try await s.complete(run, .succeeded(result: "1"), now: t + 1)
                #expect(result.effects.createdTasks == 1)
                #expect(try await s.ids(ofJob: "notify").isEmpty)
                #expect(try await s.ids(ofJob: "audit").count == 1)
                // A callback that already ran is not removed.
                #expect(try await s.store.removeDoneCallbacks(from: id, job: "audit") == 0)
                #expect(try await s.store.callbacks(of: id).count == 1)
            }
        }
    }
}
