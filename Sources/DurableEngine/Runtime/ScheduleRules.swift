package import Foundation

/// How a schedule's ticks become tasks: which ticks are due, which of them the
/// catch-up and overlap policies keep, and the task each one creates. Pure
/// functions of the stored row and the time, run by the store inside the
/// transaction that stores their result (``SchedulingStore/changeSchedules(_:now:_:)``).
package enum ScheduleRules {
    /// The context key a scheduled task's schedule name is stored under.
    package static let scheduleContextKey = "durable.schedule"
    /// The context key a scheduled task's tick (ISO 8601, UTC) is stored under.
    package static let tickContextKey = "durable.tick"

    /// The first tick of `cron` in `zone` strictly after `time` (Unix ms).
    package static func tick(of cron: CronExpression, in zone: TimeZone, after time: Int64) -> Int64? {
        cron.nextTick(after: Date(unixMilliseconds: time), in: zone)?.unixMilliseconds
    }

    /// What firing a schedule does at `now`: a buffered tick runs once the last
    /// run has finished; the due ticks go through the catch-up policy, then the
    /// overlap policy; the next tick moves past now. `nil` when nothing changes.
    package static func fire(_ schedule: StoredSchedule, lastRunFinished: Bool, now: Int64) throws -> ScheduleChange? {
        let definition = try ScheduleDefinition(schedule)
        var change = ScheduleChange(keeping: schedule)
        var runs: [Int64] = []
        var unfinished = !lastRunFinished
        if let buffered = schedule.bufferedTick, !unfinished {
            runs.append(buffered)
            change.bufferedTick = nil
            unfinished = true
        }
        if let next = schedule.nextTick, next <= now {
            // A tick is handled once: never again one at or before the last handled
            // (a redefinition computed its next tick from an earlier clock reading).
            let start = max(next - 1, schedule.lastTick ?? .min)
            let ticks = Ticks(cron: definition.cron, zone: definition.timeZone, after: start, through: now)
            let latest = ticks.latest(1)
            let kept: [Int64] =
                switch definition.catchUp {
                case .skip: latest.filter { now - $0 <= ScheduleCatchUp.onTimeMilliseconds }
                case .runOnce: latest
                case .runEach(let window):
                    ticks.latest(ScheduleCatchUp.mostMissedTicks) { now - $0 <= max(window.milliseconds, ScheduleCatchUp.onTimeMilliseconds) }
                }
            for tick in kept {
                switch definition.overlap {
                case .allowAll:
                    runs.append(tick)
                case .skip, .bufferOne:
                    if !unfinished {
                        runs.append(tick)
                        unfinished = true
                    } else if definition.overlap == .bufferOne {
                        change.bufferedTick = tick
                    }
                }
            }
            change.lastTick = latest.last ?? schedule.lastTick
            change.nextTick = tick(of: definition.cron, in: definition.timeZone, after: now)
        }
        guard !runs.isEmpty || change.nextTick != schedule.nextTick || change.bufferedTick != schedule.bufferedTick
        else { return nil }
        change.tasks = try runs.map { try task(of: schedule, tick: $0, now: now, keyed: true) }
        return change
    }

    /// The task a tick creates: the schedule's job, input and options, due now,
    /// named after the schedule and the tick, with both in its context. A tick's
    /// task is keyed by the schedule (its name and creation time) and the tick, so
    /// that no tick ever creates two; a task triggered by hand is not keyed.
    package static func task(of schedule: StoredSchedule, tick: Int64, now: Int64, keyed: Bool) throws -> NewTask {
        let time = Date(unixMilliseconds: tick).ISO8601Format()
        return NewTask(
            job: schedule.job, input: schedule.input, name: "\(schedule.name) \(time)",
            context: try StoredJSON.encodeContext([scheduleContextKey: schedule.name, tickContextKey: time]),
            key: keyed ? "durable.schedule:\(schedule.name):\(schedule.createdAt):\(tick)" : nil,
            priority: schedule.priority, runAt: now, timeoutMilliseconds: schedule.timeoutMilliseconds,
            retry: schedule.retry, queue: schedule.queue)
    }

    /// The ticks of an expression in a span of time, read from the end: the
    /// span is searched back from its end in growing windows, so that a
    /// schedule that missed a year of minutely ticks costs as much as the ticks
    /// it keeps, not as the year.
    private struct Ticks {
        let cron: CronExpression
        let zone: TimeZone
        /// The span: strictly after `start`, up to and including `end`.
        let start: Int64
        let end: Int64

        init(cron: CronExpression, zone: TimeZone, after start: Int64, through end: Int64) {
            self.cron = cron
            self.zone = zone
            self.start = start
            self.end = end
        }

        /// The last `count` ticks of the span (oldest first) among those `keep` accepts;
        /// `keep` must accept a suffix of the ticks (the newer, the likelier).
        func latest(_ count: Int, where keep: (Int64) -> Bool = { _ in true }) -> [Int64] {
            var window: Int64 = 3_600_000
            while true {
                let (windowStart, overflow) = end.subtractingReportingOverflow(window)
                let from = overflow ? start : max(start, windowStart)
                var ticks: [Int64] = []
                var time = from
                while let tick = ScheduleRules.tick(of: cron, in: zone, after: time), tick <= end {
                    if keep(tick) { ticks.append(tick) }
                    time = tick
                }
                // Enough, or nothing older to search, or older ticks would not be kept.
                if ticks.count >= count || from == start || !keep(from) {
                    return Array(ticks.suffix(count))
                }
                window = window > Int64.max / 8 ? Int64.max : window * 8
            }
        }
    }
}
