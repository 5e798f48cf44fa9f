/// A store that keeps schedules: their definitions, and their ticks fired into
/// tasks. The tick rules (cron, catch-up, overlap) are the engine's
/// (`ScheduleRules`); the store runs them inside its transaction, so a tick's
/// tasks and the schedule's move to the next tick commit together.
package protocol SchedulingStore: TaskStore {
    /// Stores `schedule` under its name, or changes the definition stored under
    /// it: the next tick, buffered tick and last tick are replaced only when
    /// the cron expression or the time zone changed; paused, the last task and
    /// the creation time stay. Returns the row as stored.
    func saveSchedule(_ schedule: StoredSchedule, now: Int64) async throws -> StoredSchedule

    /// The stored schedules by name, or the one named `name` (none if there is no such schedule).
    func schedules(named name: String?) async throws -> [StoredSchedule]

    /// Deletes a schedule (its tasks stay); `false` if none has the name.
    func deleteSchedule(named name: String) async throws -> Bool

    /// Runs `decide` in one transaction on each schedule of `selection`
    /// (locked against other processes) and applies what it returns: inserts
    /// the change's tasks (the last one created becomes the schedule's last
    /// task) and stores its ticks and pause. Returns the tasks created and the
    /// rows as they are after the change, one per schedule selected.
    func changeSchedules(
        _ selection: ScheduleSelection, now: Int64,
        _ decide: @escaping @Sendable (StoredSchedule, _ lastRunFinished: Bool) throws -> ScheduleChange?
    ) async throws -> ScheduleChangeResult

    /// When the schedules next need a worker: the earliest tick of those not
    /// paused, and the last tasks that buffered ticks wait for.
    func scheduleWake() async throws -> ScheduleWake
}

/// Which schedules ``SchedulingStore/changeSchedules(_:now:_:)`` changes.
package enum ScheduleSelection: Sendable, Equatable {
    /// Those not paused whose next tick has come or that hold a buffered tick.
    case due
    /// The one of this name; throws ``DurableError/Code/unknownSchedule`` when none has it.
    case named(String)
}

/// A schedule row as stored: times in Unix milliseconds, words and JSON as text.
package struct StoredSchedule: Sendable, Equatable {
    /// The columns a store reads a schedule from, in the order of ``init(name:cron:timeZone:job:input:queue:priority:timeoutMilliseconds:retry:overlap:catchUp:catchUpWindowMilliseconds:paused:nextTick:bufferedTick:lastTick:lastTaskID:createdAt:updatedAt:)``.
    /// (Each prefixed with `table` and a dot.)
    package static func columns(of table: String) -> String {
        [
            "name", "cron", "time_zone", "job", "input", "queue", "priority", "timeout_ms", "retry", "overlap", "catch_up",
            "catch_up_window_ms", "paused", "next_tick", "buffered_tick", "last_tick", "last_task_id", "created_at",
            "updated_at",
        ].map { "\(table).\($0)" }.joined(separator: ", ")
    }

    /// Whether a schedule whose last task has `status` (`nil`: none, or deleted)
    /// may start another run under an overlap policy.
    package static func lastRunFinished(status: String?) -> Bool {
        status.flatMap(TaskStatus.init(rawValue:)).map(\.isTerminal) ?? true
    }

    /// Applies a change's ticks and pause, and the last task it created.
    package mutating func apply(_ change: ScheduleChange, lastTask: TaskID?, now: Int64) {
        nextTick = change.nextTick
        bufferedTick = change.bufferedTick
        lastTick = change.lastTick
        paused = change.paused
        lastTaskID = lastTask ?? lastTaskID
        updatedAt = now
    }

    package var name: String
    package var cron: String
    package var timeZone: String
    package var job: String
    package var input: String
    package var queue: String
    package var priority: Int
    package var timeoutMilliseconds: Int64?
    package var retry: String?
    package var overlap: String
    package var catchUp: String
    package var catchUpWindowMilliseconds: Int64?
    package var paused: Bool
    package var nextTick: Int64?
    package var bufferedTick: Int64?
    package var lastTick: Int64?
    package var lastTaskID: TaskID?
    package var createdAt: Int64
    package var updatedAt: Int64

    /// Creates a value with every field given.
    package init(
        name: String, cron: String, timeZone: String, job: String, input: String, queue: String, priority: Int,
        timeoutMilliseconds: Int64?, retry: String?, overlap: String, catchUp: String,
        catchUpWindowMilliseconds: Int64?, paused: Bool, nextTick: Int64?, bufferedTick: Int64?, lastTick: Int64?,
        lastTaskID: TaskID?, createdAt: Int64, updatedAt: Int64
    ) {
        self.name = name
        self.cron = cron
        self.timeZone = timeZone
        self.job = job
        self.input = input
        self.queue = queue
        self.priority = priority
        self.timeoutMilliseconds = timeoutMilliseconds
        self.retry = retry
        self.overlap = overlap
        self.catchUp = catchUp
        self.catchUpWindowMilliseconds = catchUpWindowMilliseconds
        self.paused = paused
        self.nextTick = nextTick
        self.bufferedTick = bufferedTick
        self.lastTick = lastTick
        self.lastTaskID = lastTaskID
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }
}

/// What one schedule's turn in ``SchedulingStore/changeSchedules(_:now:_:)`` changes.
package struct ScheduleChange: Sendable {
    /// Tasks to create, in order; the last becomes the schedule's last task.
    package var tasks: [NewTask] = []
    package var nextTick: Int64?
    package var bufferedTick: Int64?
    package var lastTick: Int64?
    package var paused: Bool

    /// A change that keeps the schedule's ticks and pause as they are.
    package init(keeping schedule: StoredSchedule) {
        nextTick = schedule.nextTick
        bufferedTick = schedule.bufferedTick
        lastTick = schedule.lastTick
        paused = schedule.paused
    }
}

/// What ``SchedulingStore/changeSchedules(_:now:_:)`` did.
package struct ScheduleChangeResult: Sendable {
    /// The tasks created, in order (an existing task when a tick's key was taken).
    package var created: [CreatedTask] = []
    /// The selected schedules as they are after the change.
    package var schedules: [StoredSchedule] = []
    /// How many of them changed.
    package var changed = 0

    /// Creates a value with every field given.
    package init(created: [CreatedTask] = [], schedules: [StoredSchedule] = [], changed: Int = 0) {
        self.created = created
        self.schedules = schedules
        self.changed = changed
    }
}

/// When the schedules next need a worker (``SchedulingStore/scheduleWake()``).
package struct ScheduleWake: Sendable {
    /// The earliest next tick among schedules not paused.
    package var nextTick: Int64?
    /// The last task of each schedule (not paused) with a buffered tick, and whether it is finished.
    package var bufferedBehind: [(id: TaskID, finished: Bool)]

    /// Creates a value with every field given.
    package init(nextTick: Int64?, bufferedBehind: [(id: TaskID, finished: Bool)]) {
        self.nextTick = nextTick
        self.bufferedBehind = bufferedBehind
    }
}
