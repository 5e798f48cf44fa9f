import Durable
import DurableTestKit
import Foundation
import Testing

/// Queue limits across processes: the limit is read and applied in each
/// claim's transaction, so it holds however many worker processes claim.
@Suite("Queue limits across worker processes")
struct QueueLimitProcessTests {
    @Test("a global concurrency limit of 3 holds across 4 worker processes at every moment", arguments: ProcessStore.all)
    func globalLimit(store: ProcessStore) async throws {
        let directory = TemporaryDirectory()
        let database = try store.database(in: directory, file: "limited.sqlite")
        let log = directory.file("spans.log")
        let engine = try await openEngine(database)
        try await engine.configureQueue("limited", concurrency: 3)
        let count = 60
        let tasks = try await engine.createTasks(
            Spanned.self, (0..<count).map { TaskRequest($0, options: TaskOptions(queue: "limited")) })
        let first = try #require(tasks.first?.id.rawValue)
        let last = try #require(tasks.last?.id.rawValue)
        let workers = try (0..<4).map { index in
            try ChildProcess(
                "worker-\(index)",
                arguments: ["run", database, "--log", log, "--concurrency", "8", "--wait-ids", "\(first)-\(last)"],
                in: directory)
        }
        for worker in workers { try await worker.expectCleanExit(timeout: .seconds(120)) }

        // Each run's body lies inside the time its task was running in the store:
        // at no instant may more than 3 bodies overlap.
        var events: [(time: UInt64, change: Int)] = []
        var started = Set<Int>()
        for line in try lines(of: log) {
            let parts = line.split(separator: " ")
            let (kind, input, time) = (parts[0], Int(parts[1]) ?? -1, UInt64(parts[2]) ?? 0)
            if kind == "start" { started.insert(input) }
            // At an equal instant, ends come before starts.
            events.append((time, kind == "start" ? 1 : -1))
        }
        events.sort { ($0.time, $0.change) < ($1.time, $1.change) }
        var running = 0
        var most = 0
        for event in events {
            running += event.change
            most = max(most, running)
        }
        #expect(started == Set(0..<count))
        #expect(most <= 3, "\(most) runs of the limited queue overlapped")
        #expect(most == 3, "the limit was never reached: \(most)")
        let queue = try #require(try await engine.queue(named: "limited"))
        #expect(queue.pending == 0 && queue.running == 0)
        try engine.close()
    }
}
