import Durable
import Foundation

/// A duration typed on the command line: `90s`, `15m`, `12h`, `7d`, `250ms`, or
/// plain seconds; not negative, and at most ``maximum`` (36500d, 100 years): a
/// longer one is refused rather than clamped, so no option silently means less
/// than was typed. A fraction of a millisecond is rounded up.
struct DurationArgument: Sendable {
    /// The longest duration accepted, in days; option help texts name it.
    static let maximumDays = 36_500
    static let maximumMilliseconds = Double(maximumDays) * 86_400_000
    static let accepted = "use e.g. 250ms, 90s, 15m, 12h or 7d, at most \(maximumDays)d"

    let milliseconds: Int64

    /// Parses `text`; the error names `option` when given (a transform's error is
    /// shown after ArgumentParser's own words naming the option).
    init(parsing text: String, option: String? = nil) throws {
        let units: [(String, Double)] = [("ms", 1), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)]
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        let unit = units.first { trimmed.hasSuffix($0.0) }
        let number = unit.map { trimmed.dropLast($0.0.count) } ?? Substring(trimmed)
        let named = option.map { "\($0): " } ?? ""
        guard let value = Double(number), !value.isNaN else {
            throw CommandError("\(named)\"\(text)\" is not a duration (\(Self.accepted))")
        }
        guard value >= 0 else { throw CommandError("\(named)\"\(text)\" is negative (\(Self.accepted))") }
        let total = (value * (unit?.1 ?? 1000)).rounded(.up)
        guard total <= Self.maximumMilliseconds else {
            throw CommandError("\(named)\"\(text)\" is too long (at most \(Self.maximumDays)d)")
        }
        milliseconds = Int64(total)
    }

    /// A transform for `@Option`.
    static func duration(_ text: String) throws -> Duration { try DurationArgument(parsing: text).duration }

    var duration: Duration { .milliseconds(milliseconds) }

    /// How long ago the duration began, from now.
    var dateAgo: Date { Date(timeIntervalSinceNow: -Double(milliseconds) / 1000) }
}
