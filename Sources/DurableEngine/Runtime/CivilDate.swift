/// Dates of the proleptic Gregorian calendar as plain numbers, for cron's
/// search: wall times are counted in minutes since 1970-01-01 00:00 of the wall
/// clock (no time zone), instants in seconds since the Unix epoch.
enum CivilDate {
    /// A wall-clock time to the minute.
    struct WallTime: Hashable, Comparable {
        var year: Int
        var month: Int
        var day: Int
        var hour: Int
        var minute: Int

        /// Seconds since 1970-01-01 00:00 of the same wall clock.
        var localSeconds: Int64 {
            Int64(CivilDate.days(year: year, month: month, day: day)) * 86_400 + Int64(hour * 3600 + minute * 60)
        }

        static func < (lhs: WallTime, rhs: WallTime) -> Bool { lhs.localSeconds < rhs.localSeconds }
    }

    /// The wall time `localSeconds` seconds after 1970-01-01 00:00, to the minute
    /// (seconds dropped).
    static func wallTime(localSeconds: Int64) -> WallTime {
        let days = Int(localSeconds.floorDivided(by: 86_400))
        let secondsOfDay = Int(localSeconds - Int64(days) * 86_400)
        let (year, month, day) = civil(days: days)
        return WallTime(year: year, month: month, day: day, hour: secondsOfDay / 3600, minute: secondsOfDay % 3600 / 60)
    }

    /// Days from 1970-01-01 to the date (negative before it).
    static func days(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The date `days` days after 1970-01-01.
    static func civil(days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }

    /// 0 (Sunday) to 6 (Saturday).
    static func weekday(year: Int, month: Int, day: Int) -> Int {
        let days = days(year: year, month: month, day: day)
        return ((days % 7) + 7 + 4) % 7  // 1970-01-01 was a Thursday
    }

    static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }
}

extension Int64 {
    /// Division rounding towards minus infinity.
    func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }
}
