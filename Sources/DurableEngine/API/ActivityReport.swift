/// What ran lately, for the dashboard's overview (``TaskEngine/activity(overLast:)``):
/// tasks finished per minute, failures grouped by error, how long tasks waited
/// from due to running, and the workers.
public struct ActivityReport: Sendable, Hashable {
    /// The start of the window, in Unix milliseconds: a whole minute.
    public var windowStart: Int64
    /// Tasks finished in each minute of the window, oldest first (zeros included).
    public var finishedPerMinute: [Int]
    /// Tasks that failed in the window, grouped by error type and message, most first.
    public var failures: [FailureGroup]
    /// How long the tasks that finished in the window waited from due to their
    /// (last) start; `nil` when none did.
    public var queueWait: QueueWait?
    /// The workers not stopped, oldest first.
    public var workers: [WorkerActivity]

    /// Creates a value with every field given.
    public init(
        windowStart: Int64, finishedPerMinute: [Int], failures: [FailureGroup], queueWait: QueueWait?,
        workers: [WorkerActivity]
    ) {
        self.windowStart = windowStart
        self.finishedPerMinute = finishedPerMinute
        self.failures = failures
        self.queueWait = queueWait
        self.workers = workers
    }
}

/// Tasks that failed with one error (same type and message).
public struct FailureGroup: Sendable, Hashable {
    /// The error's type (``StoredError/type``) and message.
    public var type: String
    public var message: String
    public var count: Int
    /// The most recent of them.
    public var latestTaskID: TaskID

    /// Creates a value with every field given.
    public init(type: String, message: String, count: Int, latestTaskID: TaskID) {
        self.type = type
        self.message = message
        self.count = count
        self.latestTaskID = latestTaskID
    }
}

extension FailureGroup {
    /// Groups failed tasks (their id and stored error, newest first) by error
    /// type and message: most first, then most recent; at most `limit` groups.
    package static func group(_ failures: [(id: Int64, error: String?)], limit: Int) -> [FailureGroup] {
        var groups: [String: FailureGroup] = [:]
        for failure in failures {
            let error = StoredJSON.decodeError(failure.error)
            let (type, message) = (error?.type ?? "", error?.message ?? "")
            let key = type + "\u{0}" + message
            if var group = groups[key] {
                group.count += 1
                if failure.id > group.latestTaskID.rawValue { group.latestTaskID = TaskID(failure.id) }
                groups[key] = group
            } else {
                groups[key] = FailureGroup(type: type, message: message, count: 1, latestTaskID: TaskID(failure.id))
            }
        }
        let ordered = groups.values.sorted {
            ($0.count, $0.latestTaskID.rawValue) > ($1.count, $1.latestTaskID.rawValue)
        }
        return Array(ordered.prefix(max(0, limit)))
    }
}

/// Percentiles of the time from due to running, in milliseconds.
public struct QueueWait: Sendable, Hashable {
    public var p50: Int64
    public var p95: Int64
    /// How many tasks they were computed from.
    public var sampled: Int

    /// The percentiles of `waits` (nearest rank); `nil` for none.
    public init?(waits: [Int64]) {
        guard !waits.isEmpty else { return nil }
        let sorted = waits.sorted()
        func rank(_ percent: Int) -> Int64 { sorted[max(0, (sorted.count * percent + 99) / 100 - 1)] }
        p50 = rank(50)
        p95 = rank(95)
        sampled = sorted.count
    }
}

/// A worker that has not stopped: where it runs, when it last renewed its
/// leases, and how many tasks it holds.
public struct WorkerActivity: Sendable, Hashable {
    public var id: String
    public var host: String
    public var pid: Int32
    /// Its slots (``EngineConfiguration/maxConcurrentTasks``).
    public var concurrency: Int
    public var jobs: [String]
    public var startedAt: Int64
    public var heartbeatAt: Int64
    /// Tasks stored as running under it.
    public var running: Int

    /// Creates a value with every field given.
    public init(
        id: String, host: String, pid: Int32, concurrency: Int, jobs: [String], startedAt: Int64, heartbeatAt: Int64,
        running: Int
    ) {
        self.id = id
        self.host = host
        self.pid = pid
        self.concurrency = concurrency
        self.jobs = jobs
        self.startedAt = startedAt
        self.heartbeatAt = heartbeatAt
        self.running = running
    }
}
