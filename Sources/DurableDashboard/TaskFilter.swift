import DurableEngine
import Foundation

/// The task list's filter, from a request's query string: `status` (a comma
/// list), `job`, `name` (a glob: `*` and `?`), `parent` (a task id), `group` (a
/// task group's id), `key` (an idempotency key), `since` and `until` (ISO 8601
/// times: created at or after, before), `search` (a task id, or else a key),
/// `before` (a task id: the page after the one that ended with it) and `limit`
/// (1 to 500, 50 unless given). Anything that does not parse is refused with a
/// message naming the parameter.
struct TaskFilter: Sendable, Equatable {
    var query: TaskQuery
    /// The task id `search` named: the pages go straight to that task.
    var searchedID: Int64?

    static let defaultLimit = 50
    static let maximumLimit = 500

    /// Reads the filter from query parameters (the last value of each wins).
    init(parameters: [(name: String, value: String)]) throws(DashboardError) {
        var query = TaskQuery(limit: Self.defaultLimit)
        var searchedID: Int64?
        for (name, value) in parameters where !value.isEmpty {
            switch name {
            case "status":
                var statuses = Set<TaskStatus>()
                for word in value.split(separator: ",") {
                    guard let status = TaskStatus(rawValue: String(word)) else {
                        let known = TaskStatus.allCases.map(\.rawValue).joined(separator: ", ")
                        throw .badRequest("status '\(word)' is not a task status (\(known))")
                    }
                    statuses.insert(status)
                }
                query.statuses = statuses
            case "job": query.job = value
            case "name": query.nameGlob = value
            case "parent": query.parentID = TaskID(try Self.id(value, parameter: name))
            case "group": query.groupID = GroupID(rawValue: try Self.id(value, parameter: name, naming: "group id"))
            case "key": query.key = value
            case "search":
                let text = value.trimmingCharacters(in: .whitespaces)
                if let id = Int64(text), id > 0 { searchedID = id } else { query.key = text }
            case "before": query.beforeID = TaskID(try Self.id(value, parameter: name))
            case "since": query.createdSince = try Self.time(value, parameter: name)
            case "until": query.createdBefore = try Self.time(value, parameter: name)
            case "limit":
                guard let limit = Int(value), (1...Self.maximumLimit).contains(limit) else {
                    throw .badRequest("limit '\(value)' is not a number from 1 to \(Self.maximumLimit)")
                }
                query.limit = limit
            default: continue
            }
        }
        self.query = query
        self.searchedID = searchedID
    }

    /// `date` in ISO 8601, with milliseconds when it has them (so that a next
    /// page and the refilled form keep the filter as given).
    static func timeText(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        let whole = date.timeIntervalSince1970.rounded(.down) == date.timeIntervalSince1970
        formatter.formatOptions = whole ? [.withInternetDateTime] : [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }

    /// A time given as `parameter`, in ISO 8601 (fractional seconds allowed).
    static func time(_ text: String, parameter: String) throws(DashboardError) -> Date {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        guard let date = formatter.date(from: text) ?? fractional.date(from: text) else {
            throw .badRequest("\(parameter) '\(text)' is not an ISO 8601 time (for example 2026-11-30T12:00:00Z)")
        }
        return date
    }

    /// The parameters of a raw query string, as a form sends them: `+` is a
    /// space, `%XX` a byte.
    static func parameters(ofQuery query: String?) -> [(name: String, value: String)] {
        guard let query else { return [] }
        return query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ text: Substring) -> String {
                let spaced = text.replacingOccurrences(of: "+", with: " ")
                return spaced.removingPercentEncoding ?? spaced
            }
            return (decode(parts[0]), parts.count > 1 ? decode(parts[1]) : "")
        }
    }

    /// A task id given as `parameter`: a positive integer.
    static func id(_ text: String, parameter: String, naming kind: String = "task id") throws(DashboardError) -> Int64 {
        guard let id = Int64(text), id > 0 else {
            throw .badRequest("\(parameter) '\(text)' is not a \(kind) (a positive integer)")
        }
        return id
    }

    /// The query string of this filter, without `before`: what a link to the
    /// next page adds its `before` to.
    var queryString: String {
        var items: [(String, String)] = []
        if !query.statuses.isEmpty {
            items.append(("status", query.statuses.map(\.rawValue).sorted().joined(separator: ",")))
        }
        if let job = query.job { items.append(("job", job)) }
        if let name = query.nameGlob { items.append(("name", name)) }
        if let parent = query.parentID { items.append(("parent", "\(parent.rawValue)")) }
        if let group = query.groupID { items.append(("group", "\(group.rawValue)")) }
        if let key = query.key { items.append(("key", key)) }
        if let since = query.createdSince { items.append(("since", Self.timeText(since))) }
        if let until = query.createdBefore { items.append(("until", Self.timeText(until))) }
        if query.limit != Self.defaultLimit { items.append(("limit", "\(query.limit)")) }
        return items.map { "\($0)=\(Self.encode($1))" }.joined(separator: "&")
    }

    /// `value` percent-encoded for a query string (all but letters, digits and `-._~`).
    static func encode(_ value: String) -> String {
        let allowed = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }
}
