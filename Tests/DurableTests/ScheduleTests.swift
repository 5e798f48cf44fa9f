import DurableTestKit
import Durable
@testable import DurableEngine
import Foundation
import Testing

/// Schedules: each tick creates exactly one task; the overlap, catch-up, pause
/// and trigger rules; redefinition; bad definitions. Time is a manual clock.
@Suite("Schedules")
struct ScheduleTests {
    /// 2025-12-31 23:59:30 UTC: half a minute before a new year.
    static let start: Int64 = 1_767_225_600_000 - 30_000
    static let utc = TimeZone(identifier: "UTC")!

    /// 2026-01-01 at `hour:minute` UTC, in Unix milliseconds.
    static func newYear(_ hour: Int, _ minute: Int) -> Int64 {
        1_767_225_600_000 + Int64(hour * 3600 + minute * 60) * 1000
    }

    static func tickName(_ schedule: String, _ tick: Int64) -> String {
        "\(schedule) \(Date(timeIntervalSince1970: Double(tick) / 1000).ISO8601Format())"
    }

    /// The tasks of `job`, oldest first.
    private func tasks(of job: String, in engine: TaskEngine) async throws -> [TaskRecord] {
        try await engine.tasks(matching: TaskQuery(job: job)).sorted { $0.id < $1.id }
    }

    private func waitForTasks(_ count: Int, of job: String, in engine: TaskEngine) async throws -> [TaskRecord] {
        try await eventually("\(count) \(job) task(s)") { try await tasks(of: job, in: engine).count >= count }
        return try await tasks(of: job, in: engine)
    }

    /// Waits until the schedule has handled the tick at `tick`.
    private func waitForTick(_ tick: Int64, of name: String, in engine: TaskEngine) async throws {
        try await eventually("tick \(tick) of \(name) handled") {
            try await engine.schedule(named: name)?.lastTickAt == Date(timeIntervalSince1970: Double(tick) / 1000)
        }
    }

    @Test("each tick creates one task, named and keyed by the tick, with the schedule and tick in its context")
    func ticksCreateTasks() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(now: Self.start)
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        let record = try await engine.schedule(
            "minutely", cron: "* * * * *", timeZone: Self.utc, job: Echo.self, input: "tick",
            options: TaskOptions(priority: 3, timeout: .seconds(30)))
        #expect(record.nextRunAt == Date(timeIntervalSince1970: Double(Self.newYear(0, 0)) / 1000))
        #expect(record.job == "echo" && record.input == "\"tick\"" && !record.isPaused)
        #expect(record.options.priority == 3 && record.options.timeout == .seconds(30))
        try await engine.run { engine in
            #expect(try await tasks(of: "echo", in: engine).isEmpty)
            clock.advance(by: .seconds(30))
            let first = try await waitForTasks(1, of: "echo", in: engine)[0]
            #expect(first.name == Self.tickName("minutely", Self.newYear(0, 0)))
            #expect(first.context == ["durable.schedule": "minutely", "durable.tick": "2026-01-01T00:00:00Z"])
            #expect(first.key == "durable.schedule:minutely:\(Self.start):\(Self.newYear(0, 0))")
            #expect(first.priority == 3)
            #expect(try await engine.task(id: first.id, as: Echo.self).value == "tick")
            clock.advance(by: .seconds(60))
            let both = try await waitForTasks(2, of: "echo", in: engine)
            #expect(both[1].name == Self.tickName("minutely", Self.newYear(0, 1)))
            try await waitForTick(Self.newYear(0, 1), of: "minutely", in: engine)
            let stored = try #require(try await engine.schedule(named: "minutely"))
            #expect(stored.lastTaskID == both[1].id)
            #expect(stored.nextRunAt == Date(timeIntervalSince1970: Double(Self.newYear(0, 2)) / 1000))
        }
        #expect(try await tasks(of: "echo", in: engine).count == 2)
    }

    @Test("the next run is read in the schedule's time zone")
    func timeZones() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory) { $0.clock = ManualClock(now: Self.newYear(0, 0)) }
        let kolkata = try #require(TimeZone(identifier: "Asia/Kolkata"))
        let record = try await engine.schedule("morning", cron: "0 9 * * *", timeZone: kolkata, job: Echo.self, input: "")
        // 09:00 in Kolkata (UTC+5:30) is 03:30 UTC.
        #expect(record.nextRunAt == Date(timeIntervalSince1970: Double(Self.newYear(3, 30)) / 1000))
        #expect(record.timeZone.identifier == "Asia/Kolkata")
    }

    @Test("declaring a schedule again keeps its state; a new expression moves its next run")
    func redefinition() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(now: Self.start)
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        let first = try await engine.schedule("s", cron: "*/5 * * * *", timeZone: Self.utc, job: Echo.self, input: "a")
        try await engine.pauseSchedule("s")
        clock.advance(by: .seconds(1))
        let same = try await engine.schedule("s", cron: "*/5 * * * *", timeZone: Self.utc, job: Echo.self, input: "a")
        #expect(same.createdAt == first.createdAt && same.updatedAt == first.updatedAt)
        #expect(same.isPaused)
        try await engine.resumeSchedule("s")
        let newInput = try await engine.schedule("s", cron: "*/5 * * * *", timeZone: Self.utc, job: Echo.self, input: "b")
        #expect(newInput.input == "\"b\"" && newInput.createdAt == first.createdAt)
        #expect(newInput.nextRunAt == first.nextRunAt)
        let newCron = try await engine.schedule("s", cron: "30 * * * *", timeZone: Self.utc, job: Echo.self, input: "b")
        #expect(newCron.nextRunAt == Date(timeIntervalSince1970: Double(Self.newYear(0, 30)) / 1000))
        #expect(try await engine.schedules().map(\.name) == ["s"])
    }

    @Test("a tick is handled once: a next tick at or before the last handled one creates nothing again")
    func tickOnce() throws {
        // As a redefinition from a clock reading behind the loop's leaves it.
        let schedule = StoredSchedule(
            name: "s", cron: "* * * * *", timeZone: "UTC", job: "echo", input: "\"x\"", queue: "default", priority: 0,
            timeoutMilliseconds: nil, retry: nil, overlap: "allow_all", catchUp: "run_each", catchUpWindowMilliseconds: 3_600_000,
            paused: false, nextTick: Self.newYear(0, 1), bufferedTick: nil, lastTick: Self.newYear(0, 2), lastTaskID: nil,
            createdAt: Self.start, updatedAt: Self.start)
        let change = try #require(try ScheduleRules.fire(schedule, lastRunFinished: true, now: Self.newYear(0, 3) + 1000))
        #expect(change.tasks.map(\.name) == [Self.tickName("s", Self.newYear(0, 3))])
        #expect(change.lastTick == Self.newYear(0, 3) && change.nextTick == Self.newYear(0, 4))
    }

    @Test("bad definitions are refused, naming the problem, and store nothing")
    func badDefinitions() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory) { $0.clock = ManualClock(now: Self.start) }
        let syntax = await #expect(throws: CronSyntaxError.self) {
            try await engine.schedule("x", cron: "* * 32 * *", timeZone: Self.utc, job: Echo.self, input: "")
        }
        #expect(syntax?.position == 5)
        let cases: [(String, String, TaskOptions, String)] = [
            ("", "* * * * *", TaskOptions(), "name"),
            ("x", "0 0 30 2 *", TaskOptions(), "names no time"),
            ("x", "* * * * *", TaskOptions(delay: .seconds(1)), "TaskOptions.delay"),
            ("x", "* * * * *", TaskOptions(deadline: Date()), "TaskOptions.deadline"),
            ("x", "* * * * *", TaskOptions(timeout: .zero), "TaskOptions.timeout"),
        ]
        for (name, cron, options, named) in cases {
            let error = await #expect(throws: DurableError.self) {
                try await engine.schedule(name, cron: cron, timeZone: Self.utc, job: Echo.self, input: "", options: options)
            }
            #expect(error?.code == .invalidArgument && error?.message.contains(named) == true, "\(String(describing: error))")
        }
        #expect(try await engine.schedules().isEmpty)
        for change in [engine.pauseSchedule, engine.resumeSchedule] {
            let unknown = await #expect(throws: DurableError.self) { try await change("nope") }
            #expect(unknown?.code == .unknownSchedule && unknown?.message.contains("nope") == true)
        }
        let unknown = await #expect(throws: DurableError.self) { try await engine.triggerSchedule("nope") }
        #expect(unknown?.code == .unknownSchedule)
        #expect(try await engine.deleteSchedule("nope") == false)
    }

    @Test("overlap skip: a tick while the last run is unfinished creates nothing")
    func overlapSkip() async throws {
        let names = try await overlapRun(.skip)
        #expect(names == [Self.tickName("o", Self.newYear(0, 0)), Self.tickName("o", Self.newYear(0, 3))])
    }

    @Test("overlap buffer one: the latest tick that came meanwhile runs when the last run ends")
    func overlapBufferOne() async throws {
        let names = try await overlapRun(.bufferOne)
        #expect(names == [Self.tickName("o", Self.newYear(0, 0)), Self.tickName("o", Self.newYear(0, 2)),
            Self.tickName("o", Self.newYear(0, 3))])
    }

    @Test("overlap allow all: every tick creates its task")
    func overlapAllowAll() async throws {
        let names = try await overlapRun(.allowAll)
        #expect(names == [0, 1, 2, 3].map { Self.tickName("o", Self.newYear(0, $0)) })
    }

    /// Ticks at 00:00 (its run waits at a gate), 00:01 and 00:02 while it runs;
    /// then the gate opens, the runs end, and 00:03 ticks. Returns the task names.
    private func overlapRun(_ overlap: ScheduleOverlap) async throws -> [String] {
        let directory = TemporaryDirectory()
        let clock = ManualClock(now: Self.start)
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates) { $0.clock = clock }
        try await engine.schedule(
            "o", cron: "* * * * *", timeZone: Self.utc, job: WaitAtGate.self, input: "g", overlap: overlap)
        return try await engine.run { engine in
            clock.advance(by: .seconds(30))
            await gates.waitForArrivals("g")
            for minute in [1, 2] {
                clock.advance(by: .seconds(60))
                try await waitForTick(Self.newYear(0, minute), of: "o", in: engine)
            }
            let buffered = try await engine.schedule(named: "o")?.bufferedTickAt
            #expect(buffered == (overlap == .bufferOne ? Date(timeIntervalSince1970: Double(Self.newYear(0, 2)) / 1000) : nil))
            gates.open("g")
            try await eventually("every run ended") {
                let all = try await tasks(of: "wait-at-gate", in: engine)
                let buffering = try await engine.schedule(named: "o")?.bufferedTickAt != nil
                return !buffering && all.allSatisfy { $0.status == .succeeded }
            }
            clock.advance(by: .seconds(60))
            try await waitForTick(Self.newYear(0, 3), of: "o", in: engine)
            try await eventually("the 00:03 run") {
                try await tasks(of: "wait-at-gate", in: engine).contains { $0.name == Self.tickName("o", Self.newYear(0, 3)) }
            }
            return try await tasks(of: "wait-at-gate", in: engine).map(\.name)
        }
    }

    /// Every five minutes from 00:00; nothing runs until 00:17:30, when a worker
    /// starts. Returns the names of the tasks the missed ticks created.
    private func catchUpRun(_ catchUp: ScheduleCatchUp, overlap: ScheduleOverlap = .allowAll) async throws -> [String] {
        let directory = TemporaryDirectory()
        let clock = ManualClock(now: Self.start)
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        try await engine.schedule(
            "c", cron: "*/5 * * * *", timeZone: Self.utc, job: Echo.self, input: "", overlap: overlap,
            catchUp: catchUp)
        clock.advance(by: .seconds(30 + 17 * 60))
        return try await engine.run { engine in
            try await eventually("the missed ticks handled") {
                try await engine.schedule(named: "c")?.nextRunAt
                    == Date(timeIntervalSince1970: Double(Self.newYear(0, 20)) / 1000)
            }
            #expect(try await engine.schedule(named: "c")?.lastTickAt
                == Date(timeIntervalSince1970: Double(Self.newYear(0, 15)) / 1000))
            return try await tasks(of: "echo", in: engine).map(\.name)
        }
    }

    @Test("catch-up skip drops the missed ticks; run once runs the latest; run each runs those in its window")
    func catchUp() async throws {
        #expect(try await catchUpRun(.skip) == [])
        #expect(try await catchUpRun(.runOnce) == [Self.tickName("c", Self.newYear(0, 15))])
        #expect(try await catchUpRun(.runEach(within: .seconds(600)))
            == [Self.tickName("c", Self.newYear(0, 10)), Self.tickName("c", Self.newYear(0, 15))])
        // The overlap policy applies to the kept ticks: the first runs.
        #expect(try await catchUpRun(.runEach(within: .seconds(600)), overlap: .skip)
            == [Self.tickName("c", Self.newYear(0, 10))])
    }

    @Test("pause stops the ticks, trigger runs now even while paused, resume starts from the next tick, delete keeps the tasks")
    func pauseTriggerResumeDelete() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(now: Self.start)
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        try await engine.schedule("p", cron: "* * * * *", timeZone: Self.utc, job: Echo.self, input: "p")
        // A second schedule on the same ticks shows when a tick has been handled.
        try await engine.schedule("witness", cron: "* * * * *", timeZone: Self.utc, job: Doubler.self, input: 1)
        let paused = try await engine.pauseSchedule("p")
        #expect(paused.isPaused && paused.nextRunAt == nil)
        try await engine.run { engine in
            clock.advance(by: .seconds(30))
            try await waitForTick(Self.newYear(0, 0), of: "witness", in: engine)
            #expect(try await tasks(of: "echo", in: engine).isEmpty)
            let triggered = try await engine.triggerSchedule("p")
            let record = try await engine.record(of: triggered)
            #expect(record.name == Self.tickName("p", Self.newYear(0, 0)) && record.key == nil)
            #expect(try await engine.task(id: triggered, as: Echo.self).value == "p")
            #expect(try await engine.schedule(named: "p")?.lastTaskID == triggered)
            clock.advance(by: .seconds(30))
            let resumed = try await engine.resumeSchedule("p")
            #expect(!resumed.isPaused)
            #expect(resumed.nextRunAt == Date(timeIntervalSince1970: Double(Self.newYear(0, 1)) / 1000))
            clock.advance(by: .seconds(30))
            let runs = try await waitForTasks(2, of: "echo", in: engine)
            #expect(runs.map(\.name) == [Self.tickName("p", Self.newYear(0, 0)), Self.tickName("p", Self.newYear(0, 1))])
            #expect(try await engine.deleteSchedule("p"))
            #expect(try await engine.schedules().map(\.name) == ["witness"])
        }
        #expect(try await tasks(of: "echo", in: engine).count == 2)
    }

    @Test("two workers on one database, and a restart, create one task per tick")
    func oneTaskPerTickAcrossWorkers() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock(now: Self.start)
        let first = try await makeTestEngine(in: directory) { $0.clock = clock }
        let second = try await makeTestEngine(in: directory) { $0.clock = clock }
        // Every tick runs, whether or not the last run has ended.
        try await first.schedule(
            "both", cron: "* * * * *", timeZone: Self.utc, job: Echo.self, input: "b", overlap: .allowAll)
        try await first.run { first in
            try await second.run { second in
                for minute in 0..<5 {
                    clock.advance(by: .seconds(minute == 0 ? 30 : 60))
                    try await waitForTick(Self.newYear(0, minute), of: "both", in: second)
                }
            }
        }
        try first.close()
        try second.close()
        let restarted = try await makeTestEngine(in: directory) { $0.clock = clock }
        try await restarted.run { engine in
            clock.advance(by: .seconds(60))
            try await waitForTick(Self.newYear(0, 5), of: "both", in: engine)
        }
        let names = try await tasks(of: "echo", in: restarted).map(\.name)
        #expect(names == (0...5).map { Self.tickName("both", Self.newYear(0, $0)) })
    }
}
