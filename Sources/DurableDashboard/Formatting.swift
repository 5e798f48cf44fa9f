package import DurableEngine
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// How the inspection commands and the dashboard show times, durations and JSON.
package enum Formatting {
    /// A stored Unix-millisecond time as `2026-11-25 14:03:07.123` (UTC).
    package static func time(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "" }
        return utc(milliseconds, separator: " ", zone: "")
    }

    /// A stored Unix-millisecond time as ISO 8601, for JSON:
    /// `2026-11-25T14:03:07.123Z`.
    package static func isoTime(_ milliseconds: Int64?) -> String? {
        milliseconds.map { utc($0, separator: "T", zone: "Z") }
    }

    /// The UTC calendar time of a Unix-millisecond time, to the millisecond
    /// (gmtime_r: no formatter object per call, and safe from any thread).
    private static func utc(_ milliseconds: Int64, separator: String, zone: String) -> String {
        let (seconds, millisecond) = (milliseconds.floorDivided(by: 1000), milliseconds.floorModulo(1000))
        var time = time_t(seconds)
        var parts = tm()
        guard gmtime_r(&time, &parts) != nil else { return "\(milliseconds)" }
        let date = String(format: "%04d-%02d-%02d", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1, Int(parts.tm_mday))
        let clock = String(
            format: "%02d:%02d:%02d.%03d", Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), Int(millisecond))
        return date + separator + clock + zone
    }

    /// Milliseconds as `0.012 s`, `3.4 s`, `2 m 05 s`.
    package static func duration(_ milliseconds: Int64?) -> String {
        guard let milliseconds else { return "" }
        if milliseconds < 60_000 { return String(format: "%.3f s", Double(milliseconds) / 1000) }
        let seconds = milliseconds / 1000
        return seconds < 3600
            ? String(format: "%d m %02d s", seconds / 60, seconds % 60)
            : String(format: "%d h %02d m", seconds / 3600, seconds / 60 % 60)
    }

    /// Stored JSON text as a value for JSONSerialization (the text itself if it
    /// does not parse).
    package static func jsonValue(_ text: String?) -> Any {
        guard let text else { return NSNull() }
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8), options: [.fragmentsAllowed])) ?? text
    }

    /// One JSON object on one line, keys sorted.
    package static func jsonLine(_ object: [String: Any]) -> String {
        guard
            let data = try? JSONSerialization.data(
                withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes, .fragmentsAllowed])
        else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }

    /// Pretty JSON for people.
    package static func prettyJSON(_ text: String?) -> String {
        guard let text else { return "" }
        let value = jsonValue(text)
        guard JSONSerialization.isValidJSONObject(value) || value is String || value is NSNumber,
            let data = try? JSONSerialization.data(
                withJSONObject: value, options: [.prettyPrinted, .sortedKeys, .fragmentsAllowed, .withoutEscapingSlashes])
        else { return text }
        return String(decoding: data, as: UTF8.self)
    }

    /// A task as a JSON object (times ISO 8601, JSON columns embedded).
    package static func json(_ task: TaskRecord) -> [String: Any] {
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
        object["queue"] = task.queue
        object["concurrency_key"] = task.concurrencyKey.map {
            ["value": $0.value, "limit": $0.limit, "waiting": task.waitsForKey] as [String: Any]
        }
        object["parent_id"] = task.parentID?.rawValue
        object["owner"] = task.owner
        object["cancel_message"] = task.cancelMessage
        object["deadline"] = isoTime(task.deadline)
        return object
    }

    /// Why and since when nobody runs a task stored as running:
    /// `owner dead since 2026-11-25 14:03:07.123`.
    package static func abandonment(_ run: AbandonedRun) -> String {
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
    package static func status(_ task: TaskRecord, abandoned: AbandonedRun?) -> String {
        guard task.status == .running, let abandoned else { return task.status.rawValue }
        return "running — " + abandonment(abandoned)
    }

    /// An abandoned run as a JSON object (`reason`, `since`).
    package static func json(_ run: AbandonedRun) -> [String: Any] {
        ["reason": run.reason.rawValue, "since": isoTime(run.since) ?? NSNull()]
    }

    /// Shortens text to one line of at most `limit` characters.
    package static func oneLine(_ text: String?, limit: Int = 60) -> String {
        guard let text else { return "" }
        let flat = text.replacingOccurrences(of: "\n", with: " ")
        return flat.count <= limit ? flat : String(flat.prefix(limit - 1)) + "…"
    }

    /// What a checkpoint holds, on one line: a step's result or error, a
    /// durable sleep's wake-up time.
    package static func stepOutcome(_ step: StepRecord, limit: Int = 200) -> String {
        if let error = step.error { return oneLine(error.message, limit: limit) }
        if step.kind == .sleep, let wake = step.result.flatMap({ Int64($0) }) { return "wakes at \(time(wake))" }
        return oneLine(step.result, limit: limit)
    }

    /// How long a step took (empty for sleeps, and for steps stored before
    /// their start was kept).
    package static func stepDuration(_ step: StepRecord) -> String {
        step.kind == .step ? duration(step.durationMilliseconds) : ""
    }
}

extension Int64 {
    /// Division rounding toward minus infinity (times before 1970 stay in order).
    fileprivate func floorDivided(by divisor: Int64) -> Int64 {
        let quotient = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? quotient - 1 : quotient
    }

    /// The remainder of ``floorDivided(by:)``: from 0 to `divisor - 1`.
    fileprivate func floorModulo(_ divisor: Int64) -> Int64 {
        self - floorDivided(by: divisor) * divisor
    }
}
