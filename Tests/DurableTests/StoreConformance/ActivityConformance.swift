import DurableTestKit
import Durable
@testable import DurableEngine
import Testing

extension StoreConformance {
    /// What the dashboard's overview reads: tasks finished per minute, failures
    /// grouped by error, queue waits, the workers.
    @Suite("Activity")
    struct Activity {
        typealias H = StoreHarness

        @Test("finished counts per bucket, failures grouped by error, queue waits of finished tasks, live workers with their running counts",
              arguments: StoreFixture.all)
        func activity(fixture: StoreFixture) async throws {
            try await fixture.withStore { s in
                let t = H.start
                let minute: Int64 = 60_000
                let ids = try await s.create(count: 5)
                let delayed = try await s.create(input: "9", runAt: t + 500)
                var runs = Dictionary(uniqueKeysWithValues: try await s.claim(owner: "w1", now: t + 100).map { ($0.id, $0) })
                runs.merge(try await s.claim(owner: "w1", now: t + 700).map { ($0.id, $0) }) { $1 }
                func run(_ id: TaskID) throws -> ClaimedRun { try #require(runs[id]) }
                // Minute 0: two succeed; minute 1: two fail alike, one otherwise.
                try await s.complete([try run(ids[0]).completion(.succeeded(result: "1"))], now: t + 1_000)
                try await s.complete([try run(delayed).completion(.succeeded(result: "2"))], now: t + 2_000)
                try await s.complete(
                    [
                        try run(ids[1]).completion(.failed(H.failure("disk full"))),
                        try run(ids[2]).completion(.failed(H.failure("disk full"))),
                        try run(ids[3]).completion(.failed(H.failure("timeout"))),
                    ], now: t + minute + 5)
                let bucketStart = t / minute * minute
                // Every bucket starts at a multiple of the bucket size; the last three
                // finished in the minute after the first two.
                let counts = try await s.store.finishedCounts(since: t, bucket: minute)
                #expect(counts.values.reduce(0, +) == 5)
                #expect(counts.keys.allSatisfy { $0 % minute == 0 && $0 >= bucketStart })
                #expect(try await s.store.finishedCounts(since: t + minute, bucket: minute).values.reduce(0, +) == 3)

                let groups = try await s.store.failureGroups(since: t, limit: 10)
                #expect(groups.map(\.message) == ["disk full", "timeout"])
                #expect(groups.map(\.count) == [2, 1])
                #expect(groups.first?.latestTaskID == ids[2])
                #expect(try await s.store.failureGroups(since: t, limit: 1).count == 1)
                #expect(try await s.store.failureGroups(since: t + 2 * minute, limit: 10).isEmpty)

                // The delayed task waited 200 ms from due (t+500) to its start (t+700); the
                // others 100 ms; the running one has not finished and is left out.
                let waits = try await s.store.queueWaits(since: t, limit: 100)
                #expect(waits.sorted() == [100, 100, 100, 100, 200])
                #expect(try await s.store.queueWaits(since: t, limit: 2).count == 2)

                let worker = WorkerInfo(
                    id: "w1", host: "host-a", bootID: "boot", pid: 4242, processStart: "1", concurrency: 8, jobs: ["job"])
                try await s.store.registerWorker(worker, now: t, leaseUntil: t + H.lease)
                let stopped = WorkerInfo(
                    id: "w2", host: "host-b", bootID: "boot", pid: 7, processStart: "1", concurrency: 2, jobs: [])
                try await s.store.registerWorker(stopped, now: t + 1, leaseUntil: t + H.lease)
                try await s.store.stopWorker("w2", now: t + 2)
                let workers = try await s.store.workerActivity()
                #expect(workers.map(\.id) == ["w1"])
                #expect(workers.first?.host == "host-a" && workers.first?.pid == 4242)
                #expect(workers.first?.concurrency == 8 && workers.first?.jobs == ["job"])
                #expect(workers.first?.running == 1)
                #expect(try await s.status(ids[4]) == .running)
            }
        }
    }
}
