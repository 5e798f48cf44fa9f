/// A store that keeps queues: each task's queue, per-queue limits read and
/// enforced by its claims (``QueueLimits``), and concurrency keys admitted as
/// their tasks finish.
package protocol QueueStore: TaskStore {
    /// The queues (every queue a task was ever created in, and those given
    /// settings) by name, or the one named `name`, with their counts.
    func queues(named name: String?) async throws -> [QueueRecord]

    /// Changes the settings of a queue (creating its row if it has none) in one
    /// transaction and returns them as stored.
    func updateQueue(
        _ name: String, now: Int64, _ change: @escaping @Sendable (inout QueueSettings) throws -> Void
    ) async throws -> QueueSettings
}

/// What a claim needs to know of a queue's use to apply its limits.
package struct QueueUsage: Sendable, Equatable {
    /// Tasks of the queue running now, on every worker.
    package var running = 0
    /// Those running for the claiming worker.
    package var runningHere = 0
    /// Starts within the rate limit's window before now.
    package var startsInWindow = 0
    /// The earliest of those starts.
    package var earliestStartInWindow: Int64?

    package init(running: Int = 0, runningHere: Int = 0, startsInWindow: Int = 0, earliestStartInWindow: Int64? = nil) {
        self.running = running
        self.runningHere = runningHere
        self.startsInWindow = startsInWindow
        self.earliestStartInWindow = earliestStartInWindow
    }
}

/// The limits of a queue as claims apply them: how many tasks a claim may
/// start, and when a queue held back by its rate opens again. The one
/// definition both stores follow.
package enum QueueLimits {
    /// How many of `wanted` tasks a claim may start in a queue with `settings`
    /// and `usage`: none while paused; else as many as the global and
    /// per-worker concurrency and the rate allow.
    package static func capacity(_ settings: QueueSettings, usage: QueueUsage, wanted: Int) -> Int {
        guard !settings.isPaused else { return 0 }
        var capacity = wanted
        if let limit = settings.concurrency { capacity = min(capacity, limit - usage.running) }
        if let limit = settings.workerConcurrency { capacity = min(capacity, limit - usage.runningHere) }
        if let rate = settings.rateLimit { capacity = min(capacity, rate.count - usage.startsInWindow) }
        return max(0, capacity)
    }

    /// Whether a queue's concurrency (global or per worker) lets fewer than
    /// `wanted` tasks start: then the end of a run may make room at once (a rate
    /// makes room with time instead, see ``reopens(_:usage:)``).
    package static func heldBackByConcurrency(_ settings: QueueSettings, usage: QueueUsage, wanted: Int) -> Bool {
        guard !settings.isPaused else { return false }
        var unrated = settings
        unrated.rateLimit = nil
        return capacity(unrated, usage: usage, wanted: wanted) < wanted
    }

    /// When a queue whose rate allows no start now allows one again: when the
    /// earliest start in the window leaves it. `nil` when the rate is not what holds it back.
    package static func reopens(_ settings: QueueSettings, usage: QueueUsage) -> Int64? {
        guard !settings.isPaused, let rate = settings.rateLimit, usage.startsInWindow >= rate.count,
            let earliest = usage.earliestStartInWindow
        else { return nil }
        return earliest.adding(milliseconds: rate.period.milliseconds)
    }

    /// The start of the rate window at `now` (starts after it count).
    package static func windowStart(_ rate: RateLimit, now: Int64) -> Int64 {
        now.adding(milliseconds: -rate.period.milliseconds)
    }

    /// Refuses settings no claim could apply, naming the queue.
    package static func check(_ settings: QueueSettings, of queue: String) throws {
        for (name, value) in [("concurrency", settings.concurrency), ("workerConcurrency", settings.workerConcurrency)] {
            if let value, value < 1 {
                throw DurableError(.invalidArgument, "queue \"\(queue)\": \(name) must be at least 1 (it is \(value))")
            }
        }
        if let rate = settings.rateLimit {
            guard rate.count >= 1 else {
                throw DurableError(.invalidArgument, "queue \"\(queue)\": a rate limit allows at least 1 start (it is \(rate.count))")
            }
            try rate.period.checkedMilliseconds(of: "queue \"\(queue)\": the rate limit's period", positive: true)
        }
    }

    /// Refuses a task's queue or concurrency key when it is not a name, or the key allows no task.
    package static func checkQueueing(_ options: TaskOptions) throws {
        if options.queue != TaskOptions.defaultQueue { try checkName(options.queue, of: "TaskOptions.queue") }
        guard let key = options.concurrencyKey else { return }
        try checkName(key.value, of: "TaskOptions.concurrencyKey")
        guard key.limit >= 1 else {
            throw DurableError(
                .invalidArgument,
                "TaskOptions.concurrencyKey \"\(key.value)\" must allow at least 1 task (its limit is \(key.limit))")
        }
    }

    /// The distinct queues of `tasks`, in order of first appearance (without
    /// hashing each task's: a batch rarely names more than one).
    package static func distinctQueues(of tasks: [NewTask]) -> [String] {
        var queues: [String] = []
        for task in tasks where queues.last != task.queue && !queues.contains(task.queue) {
            queues.append(task.queue)
        }
        return queues
    }

    /// Refuses a queue or concurrency key name that is empty or has control characters.
    package static func checkName(_ name: String, of what: String) throws {
        // Control characters are the scalars U+0000–U+001F and U+007F–U+009F (category Cc).
        guard !name.isEmpty, !name.unicodeScalars.contains(where: { $0.value < 0x20 || (0x7F...0x9F).contains($0.value) })
        else {
            throw DurableError(.invalidArgument, "\(what) must be a name without control characters (got \"\(name)\")")
        }
    }
}
