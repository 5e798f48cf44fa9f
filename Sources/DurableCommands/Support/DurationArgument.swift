import Durable
import Foundation

/// How the inspection commands show times, durations and JSON.
enum Formatting {
    /// A stored Unix-millisecond time as `2026-11-25 14:03:07.123` (UTC).
    static func time(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "" }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "UTC")
        formatter.dateFormat = "yyyy-MM-dd HH:mm:ss.SSS"
        return formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
    }

    /// A stored Unix-millisecond time as ISO 8601, for JSON.
    static func isoTime(_ milliseconds: Int64?) -> String? {
        milliseconds.map {
            let formatter = ISO8601DateFormatter()
            formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
            return formatter.string(from: Date(timeIntervalSince1970: Double($0) / 1000))
        }
    }

    /// Milliseconds as `0.012 s`, `3.4 s`, `2 m 05 s`.
    static func duration(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "" }
        if milliseconds < 60_000 { return String(format: "%.3f s", Double(milliseconds) / 1000) }
        let seconds = milliseconds / 1000
        return seconds < 3600
            ? String(format: "%d m %02d s", seconds / 60, seconds % 60)
            : String(format: "%d h %02d m", seconds / 3600, seconds / 60 % 60)
    }

    /// Stored JSON text as a value for JSONSerialization (the text itself if it
    /// does not parse).
    static func jsonValue(_ text: String?) -> Any {
        guard let text else { return NSNull() }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
    }

    /// One JSON object on one line, keys sorted.
    static func jsonLine(_ object: [String: Any]) -> String {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Pretty JSON for people.
    static func prettyJSON(_ text: String?) -> String {
        guard let text else { return "" }
        let value = jsonValue(text)
        guard JSONSerialization.isValidJSONObject(value) || value is String || value is NSNumber,
            let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return text }
        return String(decoding: data, as: UTF8.self)
    }

    /// A task as a JSON object (times ISO 8601, JSON columns embedded).
    static func json(_ task: TaskRecord) -> [String: Any] {
        var object: [String: Any] = [
            "id": task.id.rawValue, "name": task.name, "job": task.job, "status": task.status.rawValue,
            "attempt": task.attempt, "priority": task.priority, "input": jsonValue(task.input),
            "context": task.context, "created": isoTime(task.createdAt) ?? NSNull(),
            "run_at": isoTime(task.runAt) ?? NSNull(),
        ]
        object["started"] = isoTime(task.startedAt)
        object["finished"] = isoTime(task.finishedAt)
        if let started = task.startedAt, let finished = task.finishedAt { object["duration_ms"] = finished - started }
        if task.result != nil { object["result"] = jsonValue(task.result) }
        if let error = task.error {
            var stored: [String: Any] = ["kind": error.kind.rawValue, "type": error.type, "message": error.message]
            stored["detail"] = error.detail.map { jsonValue($0) }
            object["error"] = stored
        }
        object["key"] = task.key
        object["parent_id"] = task.parentID?.rawValue
        object["owner"] = task.owner
        object["cancel_message"] = task.cancelMessage
        object["deadline"] = isoTime(task.deadline)
        return object
    }

    /// Why and since when nobody runs a task stored as running:
    /// `owner dead since 2026-11-25 14:03:07.123`.
    static func abandonment(_ run: AbandonedRun) -> String {
        let what =
            switch run.reason {
            case .ownerDead: "owner dead"
            case .ownerStopped: "owner stopped"
            case .leaseExpired: "lease expired"
            }
        return "\(what) since \(time(run.since))"
    }

    /// A task's status for people: `running — owner dead since ...` for an
    /// abandoned run.
    static func status(_ task: TaskRecord, abandoned: AbandonedRun?) -> String {
        guard task.status == .running, let abandoned else { return task.status.rawValue }
        return "running — " + abandonment(abandoned)
    }

    /// An abandoned run as a JSON object (`reason`, `since`).
    static func json(_ run: AbandonedRun) -> [String: Any] {
        ["reason": run.reason.rawValue, "since": isoTime(run.since) ?? NSNull()]
    }

    /// Shortens text to one line of at most `limit` characters.
    static func oneLine(_ text: String?, limit: Int = 60) -> String {
        guard let text else { return "" }
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }
}

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
