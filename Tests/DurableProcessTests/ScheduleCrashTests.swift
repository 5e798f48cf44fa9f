import Durable
import DurableTestKit
import Foundation
import Testing

/// Schedules under SIGKILL: worker processes that keep one schedule going are
/// killed at random moments and restarted, on a clock 600 times faster than
/// real time (a minute is 0.1 s). Each tick must create exactly one task: none
/// twice (a kill between a tick's task and the schedule's move on), none lost.
@Suite("Schedules under SIGKILL")
struct ScheduleCrashTests {
    @Test("three workers killed and restarted at random: every tick has exactly one task", arguments: ProcessStore.all)
    func killedWorkers(store: ProcessStore) async throws {
        let directory = TemporaryDirectory()
        let database = try store.database(in: directory, file: "schedule.sqlite")
        let speed: Int64 = 600
        // Half a minute before a new year, now.
        let start: Int64 = 1_767_225_600_000 - 30_000
        let origin = SystemClock().now()
        var generator = SeededGenerator(seed: UInt64(origin))
        func worker(_ name: String) throws -> ChildProcess {
            try ChildProcess(
                name,
                arguments: ["schedule", database, "--origin-ms", "\(origin)", "--start-ms", "\(start)", "--speed", "\(speed)"],
                in: directory)
        }
        var workers = try (0..<3).map { try worker("worker-\($0)") }
        // The kills begin once the schedule is stored (starting takes a while on a
        // loaded machine), so that they fall among its ticks.
        let engine = try await openEngine(database)
        try await poll("a worker stored the schedule", child: workers[0]) {
            (try? await engine.schedule(named: "crash")) != nil
        }
        var restarts = 0
        // About four seconds of real time: forty minutes of ticks.
        for round in 0..<16 {
            try await Task.sleep(for: .milliseconds(Int.random(in: 100...400, using: &generator)))
            let victim = Int.random(in: 0..<workers.count, using: &generator)
            try await workers[victim].sigkill()
            workers[victim] = try worker("worker-\(victim)-\(round)")
            restarts += 1
        }
        for worker in workers { try await worker.sigkill() }
        let stoppedAt = start + (SystemClock().now() - origin) * speed

        // One more worker catches up on the ticks missed since, then is killed too.
        let last = try worker("last")
        try await poll("the ticks up to the kill handled", child: last) {
            let tick = try await engine.schedule(named: "crash")?.lastTickAt
            return (tick?.timeIntervalSince1970 ?? 0) * 1000 >= Double(stoppedAt - 60_000)
        }
        try await last.sigkill()

        let schedule = try #require(try await engine.schedule(named: "crash"))
        let lastTick = Int64(try #require(schedule.lastTickAt).timeIntervalSince1970 * 1000)
        let tasks = try await engine.tasks(matching: TaskQuery(job: Noop.name, limit: 100_000))
        let ticks = tasks.compactMap { $0.key?.split(separator: ":").last.flatMap { Int64($0) } }.sorted()
        // The first tick is the first after the first worker stored the schedule
        // (its start took a few fast minutes); from there on, every minute.
        let first = try #require(ticks.first)
        let created = Int64(schedule.createdAt.timeIntervalSince1970 * 1000)
        #expect(first == (created / 60_000 + 1) * 60_000, "the first tick \(first) is not the first after \(created)")
        let expected = Array(stride(from: first, through: lastTick, by: 60_000))
        #expect(tasks.count == ticks.count, "every task is a tick's")
        #expect(ticks == expected, "ticks \(ticks.count), expected \(expected.count), restarts \(restarts)")
        #expect(expected.count >= 20, "only \(expected.count) ticks in the run")
        try engine.close()
    }
}
