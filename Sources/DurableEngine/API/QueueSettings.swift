/// A queue's limits and state, stored in the database so that every worker
/// process on it keeps them, and changeable at run time from any process
/// (``TaskEngine/configureQueue(_:concurrency:workerConcurrency:rateLimit:)``,
/// ``TaskEngine/pauseQueue(_:)``, `durable queues`). Claims read them in their
/// transaction, so a limit holds exactly, across processes and machines.
public struct QueueSettings: Sendable, Hashable {
    /// The most tasks of the queue running at once, across every worker; `nil`: no limit.
    public var concurrency: Int?
    /// The most tasks of the queue one worker process runs at once; `nil`: no limit.
    public var workerConcurrency: Int?
    /// The most starts (claims) in any window of the rate's period; `nil`: no limit.
    public var rateLimit: RateLimit?
    /// No task of a paused queue starts; running ones finish.
    public var isPaused: Bool

    /// Settings with every field given; by default a queue without limits.
    public init(concurrency: Int? = nil, workerConcurrency: Int? = nil, rateLimit: RateLimit? = nil, isPaused: Bool = false) {
        self.concurrency = concurrency
        self.workerConcurrency = workerConcurrency
        self.rateLimit = rateLimit
        self.isPaused = isPaused
    }

    /// Whether any limit applies (a paused queue without limits has none).
    public var hasLimits: Bool { concurrency != nil || workerConcurrency != nil || rateLimit != nil }
}

/// At most `count` task starts in any window of `period`: `RateLimit(10, per: .seconds(60))`.
/// Every attempt's start counts, retries included.
public struct RateLimit: Sendable, Hashable, CustomStringConvertible {
    /// Starts allowed per period; at least 1.
    public var count: Int
    /// The window; at least a millisecond.
    public var period: Duration

    /// A limit of `count` starts per `period`.
    public init(_ count: Int, per period: Duration) {
        self.count = count
        self.period = period
    }

    public var description: String { "\(count) per \(period.milliseconds) ms" }
}

/// A queue as ``TaskEngine/queues()`` lists it: its settings and what it holds.
public struct QueueRecord: Sendable, Hashable, Identifiable {
    public var name: String
    public var settings: QueueSettings
    /// Tasks waiting in it (due or not, waiting for their concurrency key or not).
    public var pending: Int
    public var running: Int

    public var id: String { name }

    /// Creates a value with every field given.
    public init(name: String, settings: QueueSettings, pending: Int, running: Int) {
        self.name = name
        self.settings = settings
        self.pending = pending
        self.running = running
    }
}
