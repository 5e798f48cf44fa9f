import Foundation

/// The time source of an engine: stored times (creation, leases, deadlines) and
/// timeouts of the awaiting functions. Tests inject ``ManualClock`` to drive
/// leases and timeouts without sleeping.
public protocol TaskClock: Sendable {
    /// The current wall-clock time in Unix milliseconds.
    func now() -> Int64
    /// Suspends for `duration` of this clock's time; throws `CancellationError`
    /// when the calling task is cancelled.
    func sleep(for duration: Duration) async throws
    /// Suspends until `now()` reaches `deadline` (Unix milliseconds); throws
    /// `CancellationError` when the calling task is cancelled. The default sleeps
    /// for the time left, again until it is reached.
    func sleep(until deadline: Int64) async throws
}

extension TaskClock {
    public func sleep(until deadline: Int64) async throws {
        while true {
            let left = deadline.adding(milliseconds: -now())
            guard left > 0 else { return }
            try await sleep(for: .milliseconds(left))
        }
    }
}

/// The real wall clock.
public struct SystemClock: TaskClock {
    /// Creates the system clock.
    public init() {}

    public func now() -> Int64 { Int64((Date().timeIntervalSince1970 * 1000).rounded()) }

    public func sleep(for duration: Duration) async throws {
        // Task.sleep traps on durations near Duration's limits; none is that long.
        try await Task.sleep(for: min(duration, TimeLimit.longest))
    }
}

/// The longest duration, and the farthest date from 1970, that Durable accepts:
/// 10000 years of 365.25 days. Times are stored as Int64 Unix milliseconds, so a
/// time plus a duration within these limits never overflows.
enum TimeLimit {
    static let seconds: Int64 = 315_576_000_000
    static let milliseconds = seconds * 1000
    static let longest = Duration.seconds(seconds)
    static let text = "10000 years, \(seconds) s"
}

extension Duration {
    /// Whole milliseconds, rounded up so that a positive duration never becomes 0,
    /// held at Int64's ends rather than overflowing.
    package var milliseconds: Int64 {
        let (seconds, attoseconds) = components
        let fraction = attoseconds > 0 ? (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000 : 0
        let (whole, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        if overflow { return seconds > 0 ? .max : .min }
        let (total, overflowing) = whole.addingReportingOverflow(fraction)
        return overflowing ? .max : total
    }

    /// The whole milliseconds of a duration a user gave as `option` (named in the
    /// error), rounded up; a negative one counts as zero unless `positive` requires
    /// more than zero.
    ///
    /// - Throws: ``DurableError/Code/invalidArgument`` when it is longer than
    ///   ``TimeLimit``, or not positive when it must be.
    @discardableResult
    package func checkedMilliseconds(of option: String, positive: Bool = false) throws -> Int64 {
        if positive, self <= .zero {
            throw DurableError(.invalidArgument, "\(option) must be longer than zero (it is \(secondsText))")
        }
        guard self <= TimeLimit.longest else {
            throw DurableError(.invalidArgument, "\(option) of \(secondsText) is too large (at most \(TimeLimit.text))")
        }
        return Swift.max(0, milliseconds)
    }

    /// The duration in seconds, as an error message shows it.
    private var secondsText: String {
        let (seconds, attoseconds) = components
        return attoseconds == 0 ? "\(seconds) s" : "\(Double(seconds) + Double(attoseconds) / 1e18) s"
    }
}

extension Date {
    /// The date `milliseconds` after 1970 (as times are stored).
    package init(unixMilliseconds milliseconds: Int64) {
        self.init(timeIntervalSince1970: Double(milliseconds) / 1000)
    }

    /// Unix milliseconds, held at Int64's ends (and 0 for NaN) rather than trapping.
    package var unixMilliseconds: Int64 {
        let milliseconds = (timeIntervalSince1970 * 1000).rounded()
        if milliseconds.isNaN { return 0 }
        if milliseconds >= 0x1p63 { return .max }
        return milliseconds <= -0x1p63 ? .min : Int64(milliseconds)
    }

    /// The Unix milliseconds of a date a user gave as `option` (named in the error).
    ///
    /// - Throws: ``DurableError/Code/invalidArgument`` for a NaN date, or one more
    ///   than ``TimeLimit`` before or after 1970.
    @discardableResult
    func checkedUnixMilliseconds(of option: String) throws -> Int64 {
        let seconds = timeIntervalSince1970
        guard !seconds.isNaN else { throw DurableError(.invalidArgument, "\(option) is not a date (NaN)") }
        guard abs(seconds) <= Double(TimeLimit.seconds) else {
            throw DurableError(
                .invalidArgument,
                "\(option) of \(seconds) s since 1970 is out of range (at most \(TimeLimit.text) before or after 1970)")
        }
        return unixMilliseconds
    }
}

extension Int64 {
    /// `self + milliseconds`, held at Int64's ends rather than overflowing.
    func adding(milliseconds: Int64) -> Int64 {
        let (sum, overflow) = addingReportingOverflow(milliseconds)
        return overflow ? (milliseconds > 0 ? .max : .min) : sum
    }
}
