/// The five fields of a cron expression: their ranges and names.
enum FieldKind: Sendable {
    case minute, hour, dayOfMonth, month, dayOfWeek

    var range: ClosedRange<Int> {
        switch self {
        case .minute: 0...59
        case .hour: 0...23
        case .dayOfMonth: 1...31
        case .month: 1...12
        case .dayOfWeek: 0...7
        }
    }

    /// Where `*` and `a/n` end: the range's end, but Saturday (6) for the day
    /// of week, whose 7 is Sunday again.
    var stepEnd: Int { self == .dayOfWeek ? 6 : range.upperBound }

    var name: String {
        switch self {
        case .minute: "minute"
        case .hour: "hour"
        case .dayOfMonth: "day of month"
        case .month: "month"
        case .dayOfWeek: "day of week"
        }
    }

    /// The names a field takes instead of numbers, by value.
    var names: [String: Int] {
        switch self {
        case .month:
            ["jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8, "sep": 9, "oct": 10,
             "nov": 11, "dec": 12]
        case .dayOfWeek: ["sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6]
        default: [:]
        }
    }
}

/// The values one cron field matches, as a bit set (values 0 to 63).
struct FieldSet: Sendable, Hashable {
    private(set) var bits: UInt64 = 0

    /// A field that does not parse: what is wrong, and where in the field.
    struct Problem: Error {
        var offset: Int
        var message: String
    }

    func contains(_ value: Int) -> Bool { bits & (1 << UInt64(value)) != 0 }

    func inserting(_ value: Int) -> FieldSet {
        var copy = self
        copy.bits |= 1 << UInt64(value)
        return copy
    }

    func removing(_ value: Int) -> FieldSet {
        var copy = self
        copy.bits &= ~(1 << UInt64(value))
        return copy
    }

    /// Whether it names every value of `kind` (for the day of week, 0 to 6).
    func isEvery(_ kind: FieldKind) -> Bool {
        let range = kind == .dayOfWeek ? 0...6 : kind.range
        return range.allSatisfy(contains)
    }

    /// The smallest value at least `value` that it contains, up to `limit`.
    func next(from value: Int, upTo limit: Int) -> Int? {
        guard value <= limit else { return nil }
        return (value...limit).first(where: contains)
    }

    /// Parses one field: a comma list of `*`, `a`, `a-b`, each with `/step`.
    static func parse(_ text: Substring, kind: FieldKind) throws(Problem) -> FieldSet {
        var set = FieldSet()
        var offset = 0
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            guard !part.isEmpty else { throw Problem(offset: offset, message: "an empty list item") }
            try set.add(part, kind: kind, at: offset)
            offset += part.count + 1
        }
        return set
    }

    private mutating func add(_ part: Substring, kind: FieldKind, at offset: Int) throws(Problem) {
        let pieces = part.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        let base = pieces[0]
        var step = 1
        if pieces.count == 2 {
            let stepOffset = offset + base.count + 1
            guard pieces[1].allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(pieces[1]) else {
                throw Problem(offset: stepOffset, message: "step '\(pieces[1])' is not a number")
            }
            guard value >= 1 else { throw Problem(offset: stepOffset, message: "a step must be at least 1") }
            step = value
        }
        let bounds: ClosedRange<Int>
        if base == "*" {
            bounds = kind.range.lowerBound...kind.stepEnd
        } else {
            let ends = base.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
            let low = try Self.value(ends[0], kind: kind, at: offset)
            if ends.count == 2 {
                let high = try Self.value(ends[1], kind: kind, at: offset + ends[0].count + 1)
                guard low <= high else {
                    throw Problem(offset: offset, message: "range \(base) runs backwards")
                }
                bounds = low...high
            } else {
                // `a/n` runs from a to the field's end; `a` alone is one value.
                bounds = pieces.count == 2 ? low...max(low, kind.stepEnd) : low...low
            }
        }
        for value in stride(from: bounds.lowerBound, through: bounds.upperBound, by: step) {
            bits |= 1 << UInt64(value)
        }
    }

    /// A number or (for months and days of the week) a name, in range.
    private static func value(_ text: Substring, kind: FieldKind, at offset: Int) throws(Problem) -> Int {
        if let named = kind.names[text.lowercased()] { return named }
        guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }), let value = Int(text) else {
            let names = kind.names.isEmpty ? "" : " or a name (\(kind == .month ? "JAN-DEC" : "SUN-SAT"))"
            throw Problem(offset: offset, message: "'\(text)' is not a number\(names)")
        }
        guard kind.range.contains(value) else {
            throw Problem(
                offset: offset,
                message: "\(value) is out of range (\(kind.range.lowerBound)-\(kind.range.upperBound))")
        }
        return value
    }
}
