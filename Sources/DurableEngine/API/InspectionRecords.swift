public import Foundation

/// Which tasks ``TaskEngine/tasks(matching:)`` lists.
///
/// ```swift
/// let failed = try await engine.tasks(matching: TaskQuery(statuses: [.failed], job: "fetch", limit: 20))
/// ```
public struct TaskQuery: Sendable, Hashable {
    /// Only these statuses; empty for all.
    public var statuses: Set<TaskStatus>
    /// Only names matching this glob (`*` and `?`, as SQLite's GLOB).
    public var nameGlob: String?
    /// Only tasks of this job.
    public var job: String?
    /// Only tasks of this queue.
    public var queue: String?
    /// Only tasks created at or after this time.
    public var createdSince: Date?
    /// Only tasks created before this time.
    public var createdBefore: Date?
    /// Only children of this task.
    public var parentID: TaskID?
    /// Only tasks created before this one (lower ids): the next page after a
    /// page that ended with this task.
    public var beforeID: TaskID?
    /// Only tasks of this task group.
    public var groupID: GroupID?
    /// Only the task with this idempotency key.
    public var key: String?
    /// At most this many, newest first.
    public var limit: Int

    /// Creates a query.
    public init(
        statuses: Set<TaskStatus> = [], nameGlob: String? = nil, job: String? = nil, queue: String? = nil,
        createdSince: Date? = nil,
        createdBefore: Date? = nil, parentID: TaskID? = nil, groupID: GroupID? = nil, key: String? = nil,
        beforeID: TaskID? = nil, limit: Int = 100
    ) {
        self.statuses = statuses
        self.nameGlob = nameGlob
        self.job = job
        self.queue = queue
        self.createdSince = createdSince
        self.createdBefore = createdBefore
        self.parentID = parentID
        self.groupID = groupID
        self.key = key
        self.beforeID = beforeID
        self.limit = limit
    }
}

/// One run of a task, as stored in `task_attempts`.
public struct AttemptRecord: Sendable, Hashable {
    public var taskID: TaskID
    public var attempt: Int
    public var owner: String
    public var startedAt: Int64
    public var finishedAt: Int64
    /// How the run ended.
    public var outcome: AttemptOutcome
    public var error: StoredError?

    /// Creates a value with every field given.
    package init(taskID: TaskID, attempt: Int, owner: String, startedAt: Int64, finishedAt: Int64, outcome: AttemptOutcome, error: StoredError? = nil) {
        self.taskID = taskID
        self.attempt = attempt
        self.owner = owner
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.outcome = outcome
        self.error = error
    }
}

/// A checkpoint stored inside a task (`task_steps`).
public struct StepRecord: Sendable, Hashable {
    public var position: Int
    public var name: String
    /// A step or a durable sleep.
    public var kind: StepKind
    public var status: TaskStatus
    /// The step's value as JSON, or a sleep's wake-up time.
    public var result: String?
    public var error: StoredError?
    /// The run (attempt) that stored it.
    public var attempt: Int
    /// When it began (Unix milliseconds): the step's body started, the sleep was
    /// asked for; `nil` for checkpoints stored by versions before this was kept.
    public var startedAt: Int64?
    /// When it was stored (Unix milliseconds).
    public var storedAt: Int64?

    /// How long the step took (or the sleep waited before it was stored), in
    /// milliseconds, when its start is known.
    public var durationMilliseconds: Int64? {
        guard let startedAt, let storedAt else { return nil }
        return max(0, storedAt - startedAt)
    }

    /// Creates a value with every field given.
    package init(position: Int, name: String, kind: StepKind, status: TaskStatus, result: String? = nil, error: StoredError? = nil, attempt: Int = 1, startedAt: Int64? = nil, storedAt: Int64? = nil) {
        self.position = position
        self.name = name
        self.kind = kind
        self.status = status
        self.result = result
        self.error = error
        self.attempt = attempt
        self.startedAt = startedAt
        self.storedAt = storedAt
    }
}

/// A durable done callback (`task_callbacks`).
public struct CallbackRecord: Sendable, Hashable {
    public var id: Int64
    public var job: String
    /// The callback's input as JSON.
    public var input: String
    /// The task created when the watched task finished, once it has.
    public var callbackTaskID: TaskID?

    /// Creates a value with every field given.
    package init(id: Int64, job: String, input: String, callbackTaskID: TaskID? = nil) {
        self.id = id
        self.job = job
        self.input = input
        self.callbackTaskID = callbackTaskID
    }
}

/// Counts of tasks by job and status, and recent throughput.
public struct QueueStatistics: Sendable, Hashable {
    /// Task counts per job, per stored status: abandoned runs (see
    /// ``abandoned``) count as `running` here.
    public var counts: [String: [TaskStatus: Int]]
    /// Tasks finished in the last minute and the last hour.
    public var finishedLastMinute: Int
    public var finishedLastHour: Int
    /// From the first to the last of the tasks finished in the last minute, in
    /// milliseconds (0 for one; `nil` for none).
    public var lastMinuteSpanMilliseconds: Int64?

    /// Tasks finished per second over the last minute: over the time they took
    /// to finish, not the whole minute, so a batch that ran for 25 s shows its
    /// own rate; `nil` when fewer than two finished.
    public var lastMinuteRate: Double? {
        guard finishedLastMinute > 1, let span = lastMinuteSpanMilliseconds, span > 0 else { return nil }
        return Double(finishedLastMinute - 1) / (Double(span) / 1000)
    }
    /// Per job, how many of the `running` tasks nobody runs any more
    /// (``AbandonedRun``); jobs without any are left out.
    public var abandoned: [String: Int] = [:]

    /// When the pending task that has waited longest for a slot was due
    /// (Unix milliseconds); `nil` when no pending task is due. Its age is how far
    /// behind the workers are.
    public var oldestDueTime: Int64?

    /// Abandoned runs over all jobs.
    public var abandonedTotal: Int { abandoned.values.reduce(0, +) }

    /// Running tasks whose run is live (not abandoned), over all jobs.
    public var liveRunning: Int { max(0, totals[.running, default: 0] - abandonedTotal) }

    /// Task counts per status over all jobs.
    public var totals: [TaskStatus: Int] {
        var totals: [TaskStatus: Int] = [:]
        for byStatus in counts.values {
            for (status, count) in byStatus { totals[status, default: 0] += count }
        }
        return totals
    }

    /// Creates a value with every field given.
    package init(counts: [String: [TaskStatus: Int]], finishedLastMinute: Int, finishedLastHour: Int, lastMinuteSpanMilliseconds: Int64? = nil, abandoned: [String: Int] = [:]) {
        self.counts = counts
        self.finishedLastMinute = finishedLastMinute
        self.finishedLastHour = finishedLastHour
        self.lastMinuteSpanMilliseconds = lastMinuteSpanMilliseconds
        self.abandoned = abandoned
    }
}
