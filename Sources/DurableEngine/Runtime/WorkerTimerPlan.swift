/// When the worker's own timers fire, as times of the engine's clock (Unix
/// milliseconds): the next delayed task becoming due, the earliest deadline of
/// a pending task, the end of a shutdown's grace period. One child task of the
/// worker (``Worker/timerLoop()``) sleeps until the earliest and acts on what
/// fired; this type decides, without a clock or a task of its own.
struct WorkerTimerPlan: Equatable {
    /// What fired at a given time.
    struct Firings: Equatable {
        /// Delayed work is due: note new work.
        var workDue = false
        /// A pending task's deadline passed: fail the expired ones.
        var deadlinePassed = false
        /// The grace period ended: hand running tasks back.
        var graceEnded = false

        var isEmpty: Bool { !workDue && !deadlinePassed && !graceEnded }
    }

    private(set) var dueAt: Int64?
    private(set) var deadlineAt: Int64?
    private(set) var graceEndsAt: Int64?
    /// The time after which the next due time is to be looked up in the store.
    private(set) var dueLookup: Int64?

    /// The earliest time a timer fires, if any is armed.
    var next: Int64? { [dueAt, deadlineAt, graceEndsAt].compactMap { $0 }.min() }

    /// Asks for the next due time after `now` to be looked up (the latest ask
    /// replaces an earlier one not yet served).
    mutating func lookUpDue(after now: Int64) {
        dueLookup = max(dueLookup ?? now, now)
    }

    /// Takes the pending look-up, if any.
    mutating func takeDueLookup() -> Int64? {
        defer { dueLookup = nil }
        return dueLookup
    }

    /// What the look-up found: the next due time (`nil`: none).
    mutating func due(at time: Int64?) {
        dueAt = time
    }

    /// Arms (or, with `nil`, disarms) the deadline timer; `false` when it was
    /// already armed at that time.
    mutating func deadline(at time: Int64?) -> Bool {
        guard deadlineAt != time else { return false }
        deadlineAt = time
        return true
    }

    /// The grace period of a shutdown ends at `time` (a later call replaces it).
    mutating func grace(endsAt time: Int64) {
        graceEndsAt = time
    }

    /// Disarms every timer but the grace period (the worker is draining).
    mutating func drain() {
        deadlineAt = nil
    }

    /// The timers due at `now`, disarmed.
    mutating func fire(now: Int64) -> Firings {
        var firings = Firings()
        if let dueAt, dueAt <= now {
            firings.workDue = true
            self.dueAt = nil
        }
        if let deadlineAt, deadlineAt <= now {
            firings.deadlinePassed = true
            self.deadlineAt = nil
        }
        if let graceEndsAt, graceEndsAt <= now {
            firings.graceEnded = true
            self.graceEndsAt = nil
        }
        return firings
    }
}
