import Foundation

/// Growing pauses with jitter: the one schedule behind task retries
/// (``RetryPolicy``), waits for another process's lock and the worker's pauses
/// while its store fails.
///
/// The pause after the `n`-th failure (from 1) is `initial × multiplier^(n-1)`,
/// at most `maximum`, then varied by ±`jitter` (a fraction): with a draw `u` in
/// 0...1 it is multiplied by `1 + jitter × (2u − 1)`. The draw is a parameter, so
/// tests choose it (``RandomUnit``).
package struct Backoff: Sendable, Hashable {
    package var initial: Duration
    package var maximum: Duration
    package var multiplier: Double
    package var jitter: Double

    package init(initial: Duration, maximum: Duration, multiplier: Double = 2, jitter: Double = 0) {
        self.initial = max(.zero, initial)
        self.maximum = max(.zero, maximum)
        self.multiplier = max(1, multiplier)
        self.jitter = min(1, max(0, jitter))
    }

    /// The pause in microseconds after the `failures`-th failure (from 1) for the
    /// draw `unit` (0...1), rounded, at most `limit`.
    package func microseconds(afterFailure failures: Int, unit: Double, limit: Int64 = .max) -> Int64 {
        pause(afterFailure: failures, unit: unit, initial: initial.wholeMicroseconds,
              maximum: maximum.wholeMicroseconds, limit: limit)
    }

    /// The pause in milliseconds after the `failures`-th failure (from 1) for the
    /// draw `unit` (0...1), rounded, at most `limit`.
    package func milliseconds(afterFailure failures: Int, unit: Double, limit: Int64 = .max) -> Int64 {
        pause(afterFailure: failures, unit: unit, initial: initial.milliseconds, maximum: maximum.milliseconds,
              limit: limit)
    }

    private func pause(afterFailure failures: Int, unit: Double, initial: Int64, maximum: Int64, limit: Int64)
        -> Int64
    {
        let grown = Double(initial) * pow(multiplier, Double(max(0, failures - 1)))
        let capped = min(grown, Double(maximum))
        let varied = capped * (1 + jitter * (2 * min(1, max(0, unit)) - 1))
        return Int64(min(max(0, varied.rounded()), Double(limit)))
    }

    /// The pause after the `failures`-th failure for the draw `unit`.
    package func pause(afterFailure failures: Int, unit: Double) -> Duration {
        .microseconds(microseconds(afterFailure: failures, unit: unit))
    }
}

/// Where random draws in 0...1 come from: the jitter of retry delays and of
/// waits for locks. The default is the system's generator; a test passes a
/// fixed draw to know each delay exactly.
///
/// ```swift
/// var configuration = EngineConfiguration()
/// configuration.random = .constant(0.5)   // retry delays without jitter
/// ```
public struct RandomUnit: Sendable {
    private let draw: @Sendable () -> Double

    /// Draws from `draw`; values outside 0...1 are clamped.
    public init(_ draw: @escaping @Sendable () -> Double) {
        self.draw = draw
    }

    /// The system's random number generator.
    public static let system = RandomUnit { Double.random(in: 0...1) }

    /// Always `value` (clamped to 0...1).
    public static func constant(_ value: Double) -> RandomUnit {
        RandomUnit { value }
    }

    /// The next draw, in 0...1.
    public func next() -> Double {
        min(1, max(0, draw()))
    }
}

extension Duration {
    /// Whole microseconds, rounded down; durations past Int64's range are held at its ends.
    package var wholeMicroseconds: Int64 {
        let (seconds, attoseconds) = components
        let (scaled, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000)
        if overflow { return seconds < 0 ? .min : .max }
        let (sum, overflowSum) = scaled.addingReportingOverflow(attoseconds / 1_000_000_000_000)
        return overflowSum ? .max : sum
    }
}
