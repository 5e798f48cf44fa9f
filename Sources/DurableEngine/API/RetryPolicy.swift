/// How often a task runs again after its job throws, and how long it waits in
/// between: exponential backoff with jitter, stored with the task.
///
/// ```swift
/// struct Fetch: Job {
///     static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 5, initialDelay: .seconds(1))
///     ...
/// }
/// // or per task:
/// try await engine.createTask(Fetch.self, url, options: .init(retry: .exponentialJitter(maxAttempts: 3)))
/// ```
///
/// Errors conforming to ``NonRetryable`` (such as ``NonRetryableError``), inputs
/// that do not decode, cancellations and passed deadlines are never retried. A
/// task waiting for its next attempt is `pending` with its `run_at` at that time
/// and its last error stored.
public struct RetryPolicy: Sendable, Hashable, Codable {
    /// Runs in all, the first included; 1 means no retry.
    public var maxAttempts: Int
    /// The wait before the second attempt; at most 10000 years.
    public var initialDelay: Duration
    /// The longest wait between attempts; at most 10000 years.
    public var maxDelay: Duration
    /// How much each wait grows over the previous one.
    public var multiplier: Double
    /// The fraction (0...1) by which each wait is randomly shortened or lengthened.
    public var jitter: Double

    /// Creates a policy.
    public init(
        maxAttempts: Int, initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300),
        multiplier: Double = 2, jitter: Double = 0.2
    ) {
        self.maxAttempts = max(1, maxAttempts)
        self.initialDelay = max(.zero, initialDelay)
        self.maxDelay = max(.zero, maxDelay)
        self.multiplier = max(1, multiplier)
        self.jitter = min(1, max(0, jitter))
    }

    /// One attempt, no retry.
    public static let none = RetryPolicy(maxAttempts: 1)

    /// Exponential backoff with jitter: waits `initialDelay`, then `multiplier`
    /// times longer each time, at most `maxDelay`, each randomly varied by `jitter`.
    public static func exponentialJitter(
        maxAttempts: Int, initialDelay: Duration = .seconds(1), maxDelay: Duration = .seconds(300),
        multiplier: Double = 2, jitter: Double = 0.2
    ) -> RetryPolicy {
        RetryPolicy(
            maxAttempts: maxAttempts, initialDelay: initialDelay, maxDelay: maxDelay, multiplier: multiplier,
            jitter: jitter)
    }

    /// The wait in milliseconds after the `failures`-th failure (from 1), for a
    /// random draw `unit` in 0...1.
    func delayMilliseconds(afterFailure failures: Int, unit: Double) -> Int64 {
        // A policy decoded from an edited row may hold any number of milliseconds.
        backoff.milliseconds(afterFailure: failures, unit: unit, limit: TimeLimit.milliseconds)
    }

    /// The schedule of the waits between attempts.
    var backoff: Backoff {
        Backoff(initial: initialDelay, maximum: maxDelay, multiplier: multiplier, jitter: jitter)
    }

    /// Refuses delays too long to be added to a time, naming `option`.
    func checkDelays(of option: String) throws {
        try initialDelay.checkedMilliseconds(of: "\(option).initialDelay")
        try maxDelay.checkedMilliseconds(of: "\(option).maxDelay")
    }

    private enum CodingKeys: String, CodingKey {
        case maxAttempts, initialDelayMs, maxDelayMs, multiplier, jitter
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.init(
            maxAttempts: try container.decode(Int.self, forKey: .maxAttempts),
            initialDelay: .milliseconds(try container.decode(Int64.self, forKey: .initialDelayMs)),
            maxDelay: .milliseconds(try container.decode(Int64.self, forKey: .maxDelayMs)),
            multiplier: try container.decode(Double.self, forKey: .multiplier),
            jitter: try container.decode(Double.self, forKey: .jitter))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(maxAttempts, forKey: .maxAttempts)
        try container.encode(initialDelay.milliseconds, forKey: .initialDelayMs)
        try container.encode(maxDelay.milliseconds, forKey: .maxDelayMs)
        try container.encode(multiplier, forKey: .multiplier)
        try container.encode(jitter, forKey: .jitter)
    }
}

extension RetryPolicy {
    /// The wait after the `failures`-th failure for a given random draw (0...1),
    /// for tests of the backoff arithmetic.
    public func delayMillisecondsForTest(afterFailure failures: Int, unit: Double) -> Int64 {
        delayMilliseconds(afterFailure: failures, unit: unit)
    }
}
