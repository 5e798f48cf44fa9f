public import Foundation

extension CronExpression {
    /// The first tick strictly after `date`, on the wall clock of `timeZone`;
    /// `nil` when the expression never matches (`0 0 30 2 *`) within 400 years.
    ///
    /// Daylight-saving changes:
    /// - An expression that matches every hour (its hour field is `*`) follows
    ///   real time: it ticks at each instant whose local time matches, so an
    ///   hour that is skipped has no ticks (it did not happen) and an hour that
    ///   repeats ticks in both passes — `*/15 * * * *` ticks every 15 minutes
    ///   of real time through both changes.
    /// - Any other expression names wall-clock times: a time in a skipped hour
    ///   (02:30 when clocks go from 02:00 to 03:00) ticks once, at the moment
    ///   the clocks jump (03:00); a time in a repeated hour ticks at its first
    ///   occurrence only. So `30 2 * * *` runs once every day, never twice and
    ///   never not.
    ///
    /// ```swift
    /// let paris = TimeZone(identifier: "Europe/Paris")!
    /// let next = try CronExpression("0 9 * * MON").nextTick(after: .now, in: paris)
    /// ```
    public func nextTick(after date: Date, in timeZone: TimeZone) -> Date? {
        let zone = ZoneClock(timeZone)
        let after = date.timeIntervalSince1970
        // Beyond ±100,000 years (or not a number) there is no calendar to search.
        guard after.isFinite, abs(after) < 3.2e15 else { return nil }
        let start = Int64(after.rounded(.down))
        var from = CivilDate.wallTime(localSeconds: start + zone.offset(at: start))
        var found: Int64?
        while found == nil, let wall = nextWallTime(after: from) {
            let instants = zone.instants(of: wall.localSeconds)
            if instants.isEmpty {
                // In a skipped hour: ticks at the jump, unless it follows real time.
                if !everyHour, let jump = zone.gapEnd(containing: wall.localSeconds), Double(jump) > after {
                    found = jump
                }
            } else if everyHour {
                found = instants.first { Double($0) > after }
            } else if Double(instants[0]) > after {
                found = instants[0]
            }
            from = wall
        }
        guard var tick = found else { return nil }
        // Clocks set back between now and then: the repeated local times come
        // first in real time, and an every-hour expression ticks in them too.
        if everyHour, let repeated = zone.setBack(after: start, before: tick) {
            var again = CivilDate.wallTime(localSeconds: repeated + zone.offset(at: repeated) - 60)
            while let wall = nextWallTime(after: again), wall.localSeconds - 60 < repeated + zone.offset(at: repeated) + 7200 {
                if let instant = zone.instants(of: wall.localSeconds).first(where: { $0 >= repeated && Double($0) > after }) {
                    tick = min(tick, instant)
                    break
                }
                again = wall
            }
        }
        return Date(timeIntervalSince1970: Double(tick))
    }

    /// The first wall time after `wall` (to the minute) that the fields match.
    func nextWallTime(after wall: CivilDate.WallTime) -> CivilDate.WallTime? {
        var (year, month, day, hour, minute) = (wall.year, wall.month, wall.day, wall.hour, wall.minute + 1)
        let lastYear = wall.year + 400
        while true {
            if minute > 59 { (minute, hour) = (0, hour + 1) }
            if hour > 23 { (hour, day) = (0, day + 1) }
            if day > CivilDate.daysInMonth(year: year, month: month) { (day, month) = (1, month + 1) }
            if month > 12 { (month, year) = (1, year + 1) }
            guard year <= lastYear else { return nil }
            guard let nextMonth = months.next(from: month, upTo: 12) else {
                (year, month, day, hour, minute) = (year + 1, 1, 1, 0, 0)
                continue
            }
            if nextMonth != month {
                (month, day, hour, minute) = (nextMonth, 1, 0, 0)
                continue
            }
            guard matchesDay(year: year, month: month, day: day) else {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            guard let nextHour = hours.next(from: hour, upTo: 23) else {
                (day, hour, minute) = (day + 1, 0, 0)
                continue
            }
            if nextHour != hour {
                (hour, minute) = (nextHour, 0)
                continue
            }
            guard let nextMinute = minutes.next(from: minute, upTo: 59) else {
                (hour, minute) = (hour + 1, 0)
                continue
            }
            return CivilDate.WallTime(year: year, month: month, day: day, hour: hour, minute: nextMinute)
        }
    }
}

/// A time zone's offsets, for turning wall times into instants (seconds).
struct ZoneClock {
    let zone: TimeZone

    init(_ zone: TimeZone) {
        self.zone = zone
    }

    /// Seconds east of UTC at `instant`.
    func offset(at instant: Int64) -> Int64 {
        Int64(zone.secondsFromGMT(for: Date(timeIntervalSince1970: Double(instant))))
    }

    /// The instants whose local time is `local`: one, two (a repeated hour;
    /// earlier first) or none (a skipped hour).
    func instants(of local: Int64) -> [Int64] {
        let offsets = Set([offset(at: local - 172_800), offset(at: local + 172_800)])
        return offsets.map { local - $0 }.filter { offset(at: $0) == local - $0 }.sorted()
    }

    /// The instant the clocks jumped over `local` (a time in a skipped hour).
    func gapEnd(containing local: Int64) -> Int64? {
        let before = offset(at: local - 172_800)
        let after = offset(at: local + 172_800)
        guard after > before else { return nil }
        // At local - after the old offset holds; at local - before, the new one.
        var (low, high) = (local - after, local - before)
        guard offset(at: low) == before, offset(at: high) == after else { return nil }
        while high - low > 1 {
            let middle = low + (high - low) / 2
            if offset(at: middle) == after { high = middle } else { low = middle }
        }
        return high
    }

    /// The instant clocks were set back, if they were after `start` and
    /// before `end`.
    func setBack(after start: Int64, before end: Int64) -> Int64? {
        guard let change = zone.nextDaylightSavingTimeTransition(after: Date(timeIntervalSince1970: Double(start)))
        else { return nil }
        let instant = Int64(change.timeIntervalSince1970.rounded())
        guard instant < end, offset(at: instant) < offset(at: instant - 1) else { return nil }
        return instant
    }
}
