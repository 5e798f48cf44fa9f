import ArgumentParser
import Durable
import DurableDashboard
import Foundation

/// `durable schedules`: list the stored schedules, pause, resume, trigger or delete one.
struct SchedulesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedules",
        abstract: "List the stored schedules with their next runs; pause, resume, trigger or delete one.",
        discussion: """
            Schedules are stored by programs (engine.schedule); every worker process keeps them going. \
            Same as: sqlite3 durable.sqlite 'select * from durable_schedule_status' (PostgreSQL: psql URL -c \
            'select * from durable.schedule_status').
            """,
        subcommands: [ListSchedules.self, PauseSchedule.self, ResumeSchedule.self, TriggerSchedule.self,
            DeleteSchedule.self],
        defaultSubcommand: ListSchedules.self)
}

/// `durable schedules list`.
struct ListSchedules: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the stored schedules, with their next and last runs (times in UTC).")

    @OptionGroup var database: DatabaseOption
    @Flag(name: .long, help: "One JSON object per schedule and line.") var json = false

    func run() async throws {
        let engine = try await openForReading(database)
        defer { try? engine.close() }
        let schedules = try await engine.schedules()
        if json {
            for schedule in schedules { print(Formatting.jsonLine(Self.json(schedule))) }
            return
        }
        guard !schedules.isEmpty else {
            print("no schedules in \(database.location)")
            return
        }
        var table = TextTable(columns: ["name", "cron", "time zone", "job", "state", "next run", "last tick", "last task"])
        for schedule in schedules {
            table.add([
                schedule.name, schedule.cron.text, schedule.timeZone.identifier, schedule.job,
                schedule.isPaused ? "paused" : (schedule.bufferedTickAt != nil ? "waiting for its last run" : "active"),
                Formatting.time(schedule.nextRunAt?.unixMilliseconds),
                Formatting.time(schedule.lastTickAt?.unixMilliseconds),
                schedule.lastTaskID.map { "\($0)" } ?? "-",
            ])
        }
        print(table.rendered(), terminator: "")
    }

    static func json(_ schedule: ScheduleRecord) -> [String: Any] {
        func time(_ date: Date?) -> Any { Formatting.isoTime(date?.unixMilliseconds) ?? NSNull() }
        var catchUpWindow: Any = NSNull()
        if case .runEach(let window) = schedule.catchUp { catchUpWindow = window.milliseconds }
        return [
            "name": schedule.name, "cron": schedule.cron.text, "time_zone": schedule.timeZone.identifier,
            "job": schedule.job, "input": Formatting.jsonValue(schedule.input), "paused": schedule.isPaused,
            "overlap": schedule.overlap.rawValue, "catch_up": "\(schedule.catchUp)",
            "catch_up_window_ms": catchUpWindow, "next_run": time(schedule.nextRunAt),
            "buffered_tick": time(schedule.bufferedTickAt), "last_tick": time(schedule.lastTickAt),
            "last_task_id": schedule.lastTaskID.map { $0.rawValue as Any } ?? NSNull(),
        ]
    }
}

/// `durable schedules pause NAME`.
struct PauseSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Pause a schedule: no tick creates a task until it is resumed.")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        try await changeSchedule(database, name) { engine in
            try await engine.pauseSchedule(name)
            print("\(name): paused")
        }
    }
}

/// `durable schedules resume NAME`.
struct ResumeSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "resume", abstract: "Resume a paused schedule from its next tick (missed ticks do not run).")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        try await changeSchedule(database, name) { engine in
            let schedule = try await engine.resumeSchedule(name)
            print("\(name): active, next run \(Formatting.time(schedule.nextRunAt?.unixMilliseconds))")
        }
    }
}

/// `durable schedules trigger NAME`.
struct TriggerSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "trigger", abstract: "Create the schedule's task now, outside its ticks (also while paused).")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        try await changeSchedule(database, name) { engine in
            let id = try await engine.triggerSchedule(name)
            print("\(name): created task \(id)")
        }
    }
}

/// `durable schedules delete NAME`.
struct DeleteSchedule: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "delete", abstract: "Delete a schedule; the tasks it created stay.")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The schedule's name.") var name: String

    func run() async throws {
        try await changeSchedule(database, name) { engine in
            guard try await engine.deleteSchedule(name) else {
                throw CommandError("no schedule is named \"\(name)\" in \(database.location)")
            }
            print("\(name): deleted")
        }
    }
}

/// Opens the database for a change to the schedule `name`; an unknown name is an
/// error naming it and the database.
private func changeSchedule(
    _ database: DatabaseOption, _ name: String, _ body: (TaskEngine) async throws -> Void
) async throws {
    let engine = try await openExisting(database)
    defer { try? engine.close() }
    do {
        try await body(engine)
    } catch let error as DurableError where error.code == .unknownSchedule {
        throw CommandError("no schedule is named \"\(name)\" in \(database.location)")
    }
}
