/// The worker's decisions, without I/O: which tasks hold slots, what the next
/// commit carries and claims, whether to look for work, how a stop applies to a
/// task, what a shutdown does. ``Worker`` feeds it events under one lock and
/// carries out what it answers (commits, starting and cancelling Swift tasks,
/// arming timers); its tests drive it with events alone.
///
/// Slots: a running task holds one unless it awaits other tasks (a parent
/// awaiting its children gives its slot up meanwhile), and so do slots promised
/// to tasks being created (`reserved`) and tasks claimed by a commit whose
/// results are not acted on yet. ``freeSlots(claimedNotStarted:)`` is the one
/// count behind claims, reservations and looks for work.
///
/// Work: `workGeneration` rises whenever new work may be due; a claim that came
/// back short records the generation it was asked under (`claimedGeneration`),
/// so a rise during that claim is never lost, and the worker is idle (it awaits
/// work from others) while the two are equal.
///
/// Phases: running → draining (``beginShutdown()``: no more claims, no more
/// expiries) → interrupting (``interrupt()``: running tasks are stopped and
/// handed back; tasks claimed after that stop as soon as they start) → finished
/// (``nextStep(claimedNotStarted:claimsAnyJob:)`` answers `.finish` once nothing
/// runs and nothing is left to commit).
struct WorkerDecisions<Handle> {
    /// Why a running task is being stopped.
    enum StopReason: Sendable, Equatable {
        case cancelRequested(String?)
        case shutdown
        case leaseLost
        /// The attempt's timeout (retryable) or the task's deadline (not) passed.
        case timedOut(StoredError, retryable: Bool)
    }

    /// A task running here.
    struct Running {
        var task: ClaimedTask
        var handle: Handle
        var stopReason: StopReason?
    }

    /// What the cycle does next.
    enum Step: Equatable {
        /// Commit these completions, claim up to `claimLimit` tasks (asked under
        /// `generation`), and fail expired pending tasks if `failingExpired`.
        case commit(completions: [TaskCompletion], claimLimit: Int, generation: UInt64, failingExpired: Bool)
        /// Wait for a signal.
        case sleep
        /// Nothing runs and nothing is left to commit after a shutdown.
        case finish
    }

    /// What ``stop(_:reason:)`` did.
    enum StopResult {
        /// The task is not running here (yet): the reason is kept for its start.
        case notRunning
        /// It already stops for a reason that stands.
        case alreadyStopping
        /// Its reason is set: cancel this handle.
        case stop(Handle)
    }

    let maxConcurrentTasks: Int
    private(set) var running: [TaskID: Running] = [:]
    /// Completions waiting for the next commit, in the order they came.
    private(set) var completions: [TaskCompletion] = []
    private(set) var workGeneration: UInt64 = 1
    private(set) var claimedGeneration: UInt64 = 0
    private(set) var draining = false
    /// Slots promised to tasks that are being created and claimed in their
    /// creation's transaction.
    private(set) var reserved = 0
    /// Running tasks that await other tasks and hold no slot meanwhile.
    private(set) var waiting = 0
    private(set) var interrupting = false
    /// Stops for tasks not running yet (their claim may be committing).
    private(set) var earlyStops: [TaskID: StopReason] = [:]
    /// The next commit fails the pending tasks whose deadline passed.
    private(set) var expiryDue = false
    /// For the log line at stop: commits made and completions they stored.
    private(set) var commits = 0
    private(set) var completed = 0

    init(maxConcurrentTasks: Int) {
        self.maxConcurrentTasks = maxConcurrentTasks
    }

    // MARK: Slots and work

    /// Slots free for more tasks, with `claimedNotStarted` tasks claimed by a
    /// commit whose results are not acted on yet.
    func freeSlots(claimedNotStarted: Int = 0) -> Int {
        max(0, maxConcurrentTasks - (running.count - waiting) - reserved - claimedNotStarted)
    }

    /// Nothing runs here and the last claim found no more work: new work would
    /// come from another process's commit.
    var awaitsWork: Bool { running.isEmpty && workGeneration == claimedGeneration && !draining }

    /// Whether the worker, claiming at all, would claim more after a change by
    /// others: it has a free slot and is not draining.
    func looksForWork(claimsAnyJob: Bool) -> Bool {
        !draining && claimsAnyJob && freeSlots() > 0
    }

    /// New work may be due (created here, due by a timer, requeued).
    mutating func noteNewWork() {
        workGeneration &+= 1
    }

    /// Promises up to `wanted` slots to tasks this process is creating, so they
    /// can be claimed in their creation's transaction: only while idle (the
    /// last claim found nothing more), so that no older pending task is passed
    /// over, and never while draining.
    mutating func reserve(_ wanted: Int) -> Int {
        guard !draining, workGeneration == claimedGeneration else { return 0 }
        let granted = max(0, min(wanted, freeSlots()))
        reserved += granted
        return granted
    }

    /// Gives back slots promised by ``reserve(_:)``.
    mutating func releaseReservation(_ count: Int) {
        reserved -= count
    }

    /// A running task starts (`true`) or stops awaiting other tasks.
    mutating func noteAwaiting(_ awaiting: Bool) {
        waiting += awaiting ? 1 : -1
    }

    // MARK: The commit cycle

    /// The next step of the cycle; takes the waiting completions and the due
    /// expiry into a commit.
    mutating func nextStep(claimedNotStarted: Int, claimsAnyJob: Bool) -> Step {
        let taken = completions
        completions = []
        let claimLimit =
            !draining && claimsAnyJob && workGeneration != claimedGeneration
            ? freeSlots(claimedNotStarted: claimedNotStarted) : 0
        let failingExpired = expiryDue
        expiryDue = false
        if !taken.isEmpty || claimLimit > 0 || failingExpired {
            return .commit(
                completions: taken, claimLimit: claimLimit, generation: workGeneration, failingExpired: failingExpired)
        }
        if draining && running.isEmpty && claimedNotStarted == 0 { return .finish }
        return .sleep
    }

    /// A commit returned: a claim that came back short means every due task of
    /// generation `generation` was claimed.
    mutating func committed(generation: UInt64, claimed: Int, claimLimit: Int) {
        if claimed < claimLimit { claimedGeneration = max(claimedGeneration, generation) }
    }

    /// A commit's results were acted on.
    mutating func processed(completions count: Int, nextCommitRunning: Bool) {
        commits += 1
        completed += count
        // Stops for tasks whose claim is still committing must wait for their start.
        if !nextCommitRunning { earlyStops.removeAll() }
    }

    /// A commit failed: its completions go back first in line, and so does the
    /// expiry of deadlines (unless draining: the next worker's recovery does it).
    mutating func commitFailed(_ failed: [TaskCompletion], failingExpired: Bool) {
        completions.insert(contentsOf: failed, at: 0)
        if failingExpired, !draining { expiryDue = true }
    }

    /// Completions that can no longer be stored (the store failed at shutdown).
    mutating func dropCompletions() -> [TaskCompletion] {
        defer { completions = [] }
        return completions
    }

    /// The earliest deadline of a pending task passed: the next commit fails
    /// the expired ones, unless draining.
    mutating func deadlinePassed() {
        if !draining { expiryDue = true }
    }

    // MARK: Running tasks

    /// A claimed task starts with `handle`; returns the reason it must stop at
    /// once, if one came while its claim was committing (or the worker hands
    /// tasks back already).
    mutating func start(_ task: ClaimedTask, handle: Handle) -> StopReason? {
        let reason = interrupting ? .shutdown : earlyStops.removeValue(forKey: task.id)
        running[task.id] = Running(task: task, handle: handle, stopReason: reason)
        return reason
    }

    /// Sets why a task stops. The first reason stands, except that a cancel
    /// request replaces a shutdown or a timeout (the task ends cancelled, not
    /// handed back or retried). A task not running yet keeps the first reason
    /// for its start.
    mutating func stop(_ id: TaskID, reason: StopReason) -> StopResult {
        guard var task = running[id] else {
            if earlyStops[id] == nil { earlyStops[id] = reason }
            return .notRunning
        }
        switch (task.stopReason, reason) {
        case (nil, _), (.shutdown?, .cancelRequested), (.timedOut?, .cancelRequested): task.stopReason = reason
        default: return .alreadyStopping
        }
        running[id] = task
        return .stop(task.handle)
    }

    /// A task's job ended; returns its entry (with why it was stopped), `nil`
    /// if it is not running here.
    mutating func finish(_ id: TaskID) -> Running? {
        running.removeValue(forKey: id)
    }

    /// Queues a completion for the next commit.
    mutating func complete(_ completion: TaskCompletion) {
        completions.append(completion)
    }

    // MARK: Shutdown

    /// Stops claiming and expiring; running tasks may still finish.
    mutating func beginShutdown() {
        draining = true
        expiryDue = false
    }

    /// Running tasks are handed back: returns those to stop. Tasks that start
    /// after this stop at once.
    mutating func interrupt() -> [TaskID] {
        interrupting = true
        return Array(running.keys)
    }
}

extension WorkerDecisions.Step {
    static func == (lhs: Self, rhs: Self) -> Bool {
        switch (lhs, rhs) {
        case (.sleep, .sleep), (.finish, .finish): true
        case let (.commit(a, b, c, d), .commit(e, f, g, h)):
            a.map(\.id) == e.map(\.id) && b == f && c == g && d == h
        default: false
        }
    }
}
