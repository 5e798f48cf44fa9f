public import Foundation

/// A stored schedule, as ``TaskEngine/schedules()`` lists it: its definition,
/// whether it is paused, and where its ticks stand.
public struct ScheduleRecord: Sendable, Hashable, Identifiable {
    /// The schedule's name, unique in the database.
    public var name: String
    public var cron: CronExpression
    /// The zone the cron expression's wall times are read in.
    public var timeZone: TimeZone
    /// The job of the tasks it creates.
    public var job: String
    /// Their input, as stored JSON.
    public var input: String
    /// Their priority, timeout, retry policy and queue (a schedule's tasks have
    /// no delay, deadline or concurrency key).
    public var options: TaskOptions
    public var overlap: ScheduleOverlap
    public var catchUp: ScheduleCatchUp
    public var isPaused: Bool
    /// When it next fires; `nil` while paused, or when its expression names no
    /// time to come (`0 0 30 2 *`).
    public var nextRunAt: Date?
    /// A tick held back until the last run ends (``ScheduleOverlap/bufferOne``).
    public var bufferedTickAt: Date?
    /// The latest tick handled, run or skipped.
    public var lastTickAt: Date?
    /// The latest task the schedule created (by a tick or ``TaskEngine/triggerSchedule(_:)``).
    public var lastTaskID: TaskID?
    public var createdAt: Date
    public var updatedAt: Date

    public var id: String { name }

    /// Reads a stored row. Throws ``DurableError/Code/invalidRow`` naming the
    /// schedule when a stored word, expression or time zone is not one this
    /// build knows (a row edited by hand): never guessed.
    package init(_ stored: StoredSchedule) throws {
        let definition = try ScheduleDefinition(stored)
        name = stored.name
        cron = definition.cron
        timeZone = definition.timeZone
        job = stored.job
        input = stored.input
        options = TaskOptions(
            priority: stored.priority, timeout: stored.timeoutMilliseconds.map { .milliseconds($0) },
            retry: definition.retry, queue: stored.queue)
        overlap = definition.overlap
        catchUp = definition.catchUp
        isPaused = stored.paused
        nextRunAt = stored.paused ? nil : stored.nextTick.map(Date.init(unixMilliseconds:))
        bufferedTickAt = stored.bufferedTick.map(Date.init(unixMilliseconds:))
        lastTickAt = stored.lastTick.map(Date.init(unixMilliseconds:))
        lastTaskID = stored.lastTaskID
        createdAt = Date(unixMilliseconds: stored.createdAt)
        updatedAt = Date(unixMilliseconds: stored.updatedAt)
    }
}

/// The parts of a stored schedule the engine reads as types: refused, naming
/// the schedule, when a row holds what no build writes.
package struct ScheduleDefinition: Sendable {
    package var cron: CronExpression
    package var timeZone: TimeZone
    package var overlap: ScheduleOverlap
    package var catchUp: ScheduleCatchUp
    package var retry: RetryPolicy?

    package init(_ stored: StoredSchedule) throws {
        let subject = "schedule \"\(stored.name)\""
        do {
            cron = try CronExpression(stored.cron)
        } catch {
            throw DurableError(.invalidRow, "\(subject) has a stored \(error)")
        }
        guard let zone = TimeZone(identifier: stored.timeZone) else {
            throw DurableError(.invalidRow, "\(subject) has time zone \"\(stored.timeZone)\", which this system does not know")
        }
        timeZone = zone
        overlap = try StoredWord.decode(ScheduleOverlap.self, stored.overlap, column: "overlap", of: subject)
        catchUp = ScheduleCatchUp(
            word: try StoredWord.decode(CatchUpWord.self, stored.catchUp, column: "catch_up", of: subject),
            windowMilliseconds: stored.catchUpWindowMilliseconds)
        do {
            retry = try stored.retry.map { try StoredJSON.decode(RetryPolicy.self, from: $0) }
        } catch {
            throw DurableError(.invalidRow, "\(subject) has a retry policy that cannot be read: \(error)")
        }
    }
}
