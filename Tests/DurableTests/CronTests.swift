import Durable
import Foundation
import Testing

/// Cron expressions: parsing (with the position of a problem) and the next
/// ticks, in UTC and across daylight-saving changes. scripts/cron-check also
/// compares thousands of generated expressions with croniter.
@Suite("Cron expressions")
struct CronTests {
    private let utc = TimeZone(identifier: "UTC")!
    private let newYork = TimeZone(identifier: "America/New_York")!

    private func date(_ text: String) throws -> Date {
        try #require(ISO8601DateFormatter().date(from: text), "\(text)")
    }

    /// The next `count` ticks after `start`, as ISO 8601 UTC times.
    private func ticks(_ text: String, after start: String, in zone: TimeZone, count: Int) throws -> [String] {
        let expression = try CronExpression(text)
        var after = try date(start)
        var found: [String] = []
        for _ in 0..<count {
            guard let tick = expression.nextTick(after: after, in: zone) else { break }
            found.append(ISO8601DateFormatter().string(from: tick))
            after = tick
        }
        return found
    }

    @Test(
        "an expression that does not parse is refused with the position of the problem",
        arguments: [
            ("61 * * * *", 1, "minute: 61 is out of range (0-59)"),
            ("* * * * * *", 11, "five fields"),
            ("* *", 4, "found 2"),
            ("*/0 * * * *", 3, "minute: a step must be at least 1"),
            ("5-3 * * * *", 1, "minute: range 5-3 runs backwards"),
            ("* * * FOO *", 7, "month: 'FOO' is not a number or a name (JAN-DEC)"),
            ("1,,2 * * * *", 3, "minute: an empty list item"),
            ("0 0 1-x * *", 7, "day of month: 'x' is not a number"),
            ("0 0 * * 8", 9, "day of week: 8 is out of range (0-7)"),
            ("@reboot", 1, "unknown macro"),
            ("*/+5 * * * *", 3, "minute: step '+5' is not a number"),
        ])
    func refused(text: String, position: Int, message: String) {
        #expect {
            _ = try CronExpression(text)
        } throws: { error in
            guard let error = error as? CronSyntaxError else { return false }
            return error.position == position && error.message.contains(message)
                && error.description.hasPrefix("cron expression \"\(text)\": at \(position): ")
        }
    }

    @Test("values, ranges, steps, lists, names and macros; weekday 7 is Sunday")
    func fields() throws {
        #expect(
            try ticks("5/20 9-10 * * *", after: "2026-11-30T00:00:00Z", in: utc, count: 4)
                == ["2026-11-30T09:05:00Z", "2026-11-30T09:25:00Z", "2026-11-30T09:45:00Z", "2026-11-30T10:05:00Z"])
        #expect(
            try ticks("0 12 * * 7", after: "2026-11-30T00:00:00Z", in: utc, count: 2)
                == ["2026-12-06T12:00:00Z", "2026-12-13T12:00:00Z"])
        #expect(
            try ticks("0 8 * jan,Jul mon-FRI", after: "2026-06-30T09:00:00Z", in: utc, count: 2)
                == ["2026-07-01T08:00:00Z", "2026-07-02T08:00:00Z"])
        #expect(try ticks("@monthly", after: "2026-11-30T00:00:00Z", in: utc, count: 1) == ["2026-12-01T00:00:00Z"])
        #expect(try ticks("@hourly", after: "2026-11-30T10:00:00Z", in: utc, count: 1) == ["2026-11-30T11:00:00Z"])
        #expect(try ticks("0 0 29 2 *", after: "2026-01-01T00:00:00Z", in: utc, count: 1) == ["2028-02-29T00:00:00Z"])
        #expect(try CronExpression("0 0 30 2 *").nextTick(after: try date("2026-01-01T00:00:00Z"), in: utc) == nil)
    }

    @Test("with both day fields restricted, a day matches if either does; with one, only it decides")
    func dayFields() throws {
        // 2026-11-30 is a Monday.
        #expect(
            try ticks("0 0 1 * MON", after: "2026-11-30T12:00:00Z", in: utc, count: 4)
                == ["2026-12-01T00:00:00Z", "2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z", "2026-12-21T00:00:00Z"])
        #expect(
            try ticks("0 0 */10 * *", after: "2026-11-30T12:00:00Z", in: utc, count: 3)
                == ["2026-12-01T00:00:00Z", "2026-12-11T00:00:00Z", "2026-12-21T00:00:00Z"])
        #expect(
            try ticks("0 0 * * 1", after: "2026-11-30T12:00:00Z", in: utc, count: 1) == ["2026-12-07T00:00:00Z"])
    }

    @Test("a wall time in the skipped hour ticks once, when the clocks jump; one in the repeated hour, at its first occurrence")
    func wallTimesAcrossDaylightSaving() throws {
        // New York, 2026: clocks jump from 02:00 EST to 03:00 EDT on March 8 (07:00 UTC)
        // and go back from 02:00 EDT to 01:00 EST on November 1 (06:00 UTC).
        #expect(
            try ticks("30 2 * * *", after: "2026-03-07T08:00:00Z", in: newYork, count: 2)
                == ["2026-03-08T07:00:00Z", "2026-03-09T06:30:00Z"])
        #expect(
            try ticks("*/15 2 * * *", after: "2026-03-08T06:00:00Z", in: newYork, count: 2)
                == ["2026-03-08T07:00:00Z", "2026-03-09T06:00:00Z"])
        #expect(
            try ticks("30 1 * * *", after: "2026-10-31T16:00:00Z", in: newYork, count: 2)
                == ["2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"])
    }

    @Test("an every-hour expression follows real time: no ticks in the skipped hour, ticks in both passes of the repeated one")
    func realTimeAcrossDaylightSaving() throws {
        #expect(
            try ticks("*/30 * * * *", after: "2026-03-08T06:15:00Z", in: newYork, count: 3)
                == ["2026-03-08T06:30:00Z", "2026-03-08T07:00:00Z", "2026-03-08T07:30:00Z"])
        #expect(
            try ticks("0 * * * *", after: "2026-03-08T05:30:00Z", in: newYork, count: 2)
                == ["2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z"])
        #expect(
            try ticks("*/30 * * * *", after: "2026-11-01T04:45:00Z", in: newYork, count: 5)
                == [
                    "2026-11-01T05:00:00Z", "2026-11-01T05:30:00Z", "2026-11-01T06:00:00Z", "2026-11-01T06:30:00Z",
                    "2026-11-01T07:00:00Z",
                ])
    }

    @Test("whitespace around and between fields is any whitespace; an instant that is not a number has no next tick")
    func whitespaceAndNonFiniteInstants() throws {
        #expect(try ticks(" 0\t0  * * *\n", after: "2026-11-30T10:00:00Z", in: utc, count: 1) == ["2026-12-01T00:00:00Z"])
        let expression = try CronExpression("* * * * *")
        #expect(expression.nextTick(after: Date(timeIntervalSince1970: .nan), in: utc) == nil)
        #expect(expression.nextTick(after: Date(timeIntervalSince1970: .infinity), in: utc) == nil)
    }

    @Test("the next tick is strictly after the given instant, to the minute")
    func strictlyAfter() throws {
        #expect(try ticks("* * * * *", after: "2026-11-30T10:00:00Z", in: utc, count: 1) == ["2026-11-30T10:01:00Z"])
        let expression = try CronExpression("* * * * *")
        let almost = try date("2026-11-30T10:00:00Z").addingTimeInterval(59.5)
        #expect(expression.nextTick(after: almost, in: utc) == (try date("2026-11-30T10:01:00Z")))
    }
}
