import Foundation

/// A standard five-field cron expression: minute, hour, day of month, month,
/// day of week.
///
/// Each field is `*`, a value, a range `a-b`, a step `*/n`, `a-b/n` or `a/n`
/// (from `a` to the field's end), or a comma list of these. Months take `JAN`
/// to `DEC` and days of the week `SUN` to `SAT` (any case; in ranges too); day
/// of week 0 and 7 are both Sunday. `@yearly` (`@annually`), `@monthly`,
/// `@weekly`, `@daily` (`@midnight`) and `@hourly` stand for their usual
/// expressions.
///
/// When both the day of month and the day of week are restrictions, a day
/// matches if either does (`0 0 1 * MON`: the 1st of each month and every
/// Monday); otherwise both must. A day field is a restriction unless it names
/// every day (`*`, `*/1`, `1-31`) — croniter's reading. Vixie cron and cronie
/// instead take any field that starts with `*` as no restriction, so there
/// `0 0 */2 * MON` means odd-dated Mondays, and here odd days and Mondays.
///
/// ```swift
/// let nightly = try CronExpression("30 2 * * MON-FRI")
/// let next = nightly.nextTick(after: .now, in: TimeZone(identifier: "Europe/Paris")!)
/// ```
///
/// An expression that does not parse throws ``CronSyntaxError``, which gives the
/// position of the problem.
public struct CronExpression: Sendable, Hashable, CustomStringConvertible {
    /// The expression as written.
    public let text: String
    let minutes: FieldSet
    let hours: FieldSet
    let daysOfMonth: FieldSet
    let months: FieldSet
    /// 0 (Sunday) to 6; 7 is folded into 0.
    let daysOfWeek: FieldSet
    /// Whether the day of month and day of week are both restricted (a day
    /// matches if either does).
    let eitherDay: Bool

    public var description: String { text }

    /// Parses `text`.
    ///
    /// - Throws: ``CronSyntaxError`` naming the position (from 1) and the
    ///   problem: a missing or extra field, a value out of range, an unknown
    ///   name, a step of zero, a backwards range.
    public init(_ text: String) throws(CronSyntaxError) {
        self.text = text
        let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
        let expanded = Self.macros[trimmed.lowercased()]
        if trimmed.hasPrefix("@"), expanded == nil {
            throw CronSyntaxError(
                text: text, position: 1 + text.prefix(while: \.isWhitespace).count,
                message: "unknown macro (known: @yearly, @annually, @monthly, @weekly, @daily, @midnight, @hourly)")
        }
        let source = expanded ?? text
        let fields = Self.split(source)
        guard fields.count == 5 else {
            let position = fields.count > 5 ? fields[5].start + 1 : source.count + 1
            throw CronSyntaxError(
                text: text, position: expanded == nil ? position : 1,
                message: "a cron expression has five fields (minute hour day-of-month month day-of-week); found "
                    + "\(fields.count)")
        }
        func parse(_ index: Int, _ kind: FieldKind) throws(CronSyntaxError) -> FieldSet {
            do throws(FieldSet.Problem) {
                return try FieldSet.parse(fields[index].text, kind: kind)
            } catch {
                throw CronSyntaxError(
                    text: text, position: expanded == nil ? fields[index].start + 1 + error.offset : 1,
                    message: "\(kind.name): \(error.message)")
            }
        }
        minutes = try parse(0, .minute)
        hours = try parse(1, .hour)
        daysOfMonth = try parse(2, .dayOfMonth)
        months = try parse(3, .month)
        let weekdays = try parse(4, .dayOfWeek)
        daysOfWeek = weekdays.contains(7) ? weekdays.inserting(0).removing(7) : weekdays
        eitherDay = !daysOfMonth.isEvery(.dayOfMonth) && !daysOfWeek.isEvery(.dayOfWeek)
    }

    /// Whether every hour of the day matches (then the ticks follow real time
    /// through daylight-saving changes; see ``nextTick(after:in:)``).
    var everyHour: Bool { hours.isEvery(.hour) }

    /// Whether the day `day` (of `month` in `year`) matches the day fields.
    func matchesDay(year: Int, month: Int, day: Int) -> Bool {
        let dom = daysOfMonth.contains(day)
        let dow = daysOfWeek.contains(CivilDate.weekday(year: year, month: month, day: day))
        return eitherDay ? dom || dow : dom && dow
    }

    private static let macros = [
        "@yearly": "0 0 1 1 *", "@annually": "0 0 1 1 *", "@monthly": "0 0 1 * *", "@weekly": "0 0 * * 0",
        "@daily": "0 0 * * *", "@midnight": "0 0 * * *", "@hourly": "0 * * * *",
    ]

    /// The whitespace-separated fields of `text`, each with its offset.
    private static func split(_ text: String) -> [(text: Substring, start: Int)] {
        var fields: [(text: Substring, start: Int)] = []
        var index = text.startIndex
        var offset = 0
        while index < text.endIndex {
            if text[index].isWhitespace {
                index = text.index(after: index)
                offset += 1
                continue
            }
            let start = index
            let startOffset = offset
            while index < text.endIndex, !text[index].isWhitespace {
                index = text.index(after: index)
                offset += 1
            }
            fields.append((text[start..<index], startOffset))
        }
        return fields
    }
}

/// Why a cron expression does not parse, and where.
///
/// ```
/// cron expression "61 * * * *": at 1: minute: 61 is out of range (0-59)
/// ```
public struct CronSyntaxError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The expression.
    public var text: String
    /// Where the problem is: the position of a character, from 1.
    public var position: Int
    /// What is wrong there.
    public var message: String

    public var description: String { "cron expression \"\(text)\": at \(position): \(message)" }
}
