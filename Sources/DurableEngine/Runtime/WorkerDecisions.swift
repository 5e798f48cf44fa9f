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
/// Claiming ahead: while recent runs are short, a claim also takes tasks
/// beyond the free slots, as many as the slots would start within 5 ms at the
/// recent pace (``claimAheadDepth``; at most four times the slots). They wait
/// in `ready`, in claim order, and start as slots free, without waiting for
/// the next commit; so how many tasks a commit carries does not depend on how
/// many may run at once. A ready task that is cancelled, whose lease is lost,
/// or that is still waiting at shutdown is ended or handed back without
/// running; so are all of them when none has started for a while
/// (``takeStaleReady(now:wait:)``: the runs ahead of them grew long).
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
    let maxConcurrentTasks: Int
    /// The most claimed tasks that may wait for a slot (see claiming ahead
    /// above): four times the slots, at most 1024.
    let claimAheadLimit: Int
    /// How long, at the recent pace, the ready tasks may take to start: 5 ms
    /// (in nanoseconds). Runs longer than this on average claim nothing ahead.
    static var claimAheadHorizonNanoseconds: Double { 5_000_000 }
    /// Claimed tasks waiting for a slot, in claim order.
    private(set) var ready: [ClaimedTask] = []
    /// Tasks taken from `ready` to start: they hold their slots until they do.
    private(set) var launching = 0
    /// When a task last started from `ready`, or the line last filled from empty.
    private var readyMovedAt: Int64 = 0
    /// The average duration of recent runs (weighted towards the latest), in
    /// nanoseconds; `nil` until a run ends.
    private(set) var averageRunNanoseconds: Double?
    private(set) var running: [TaskID: Running] = [:]
    /// Earlier runs of tasks claimed here again while those runs still end (this
    /// worker's own lease had expired, say while another process held the write
    /// lock for longer than the lease, and recovery handed the tasks back). They
    /// are stopped (lease lost) and hold their slots until they end.
    private(set) var superseded: [RunKey: Running] = [:]
    /// A look for others' work was skipped for lack of a free slot: when one
    /// frees, new work may be due.
    private var skippedLook = false
    /// Completions waiting for the next commit, in the order they came.
    private(set) var completions: [TaskCompletion] = []
    /// Completions of the commit under way (their tasks still run in the store
    /// until it returns).
    private(set) var committing: [TaskCompletion] = []
    /// Whether the commit under way claims: tasks it claims are not known here
    /// until it returns.
    private(set) var claiming = false
    /// Tasks claimed by a commit that returned, not started yet.
    private(set) var claimedNotStarted: Set<TaskID> = []
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
    /// The last claim left claimable tasks behind because of a queue's limit
    /// (concurrency, per worker, rate): the end of a run here may make room, and
    /// no other process's commit would tell this worker.
    private(set) var heldBackByLimits = false
    /// For the log line at stop: commits made and completions they stored.
    private(set) var commits = 0
    private(set) var completed = 0

    init(maxConcurrentTasks: Int, claimAheadLimit: Int? = nil) {
        self.maxConcurrentTasks = maxConcurrentTasks
        self.claimAheadLimit = max(0, claimAheadLimit ?? min(4 * maxConcurrentTasks, 1024))
    }

    // MARK: Slots and work

    /// Slots free for more tasks, with `claimedNotStarted` tasks claimed by a
    /// commit whose results are not acted on yet.
    /// (Reservations and looks for work pass none: for the moment between a
    /// commit and the start of the tasks it claimed, they may promise a slot
    /// that a claimed task takes a little later.)
    func freeSlots(claimedNotStarted: Int = 0) -> Int {
        max(0, maxConcurrentTasks - occupiedSlots - ready.count - claimedNotStarted)
    }

    /// Slots held: by running tasks (unless they await others), reservations,
    /// and tasks taken from `ready` that are starting.
    private var occupiedSlots: Int {
        running.count + superseded.count - waiting + reserved + launching
    }

    /// How many tasks the next claim may take: the free slots, and while runs
    /// are short, up to ``claimAheadDepth`` more to wait in `ready`.
    func claimRoom(claimedNotStarted: Int) -> Int {
        max(0, maxConcurrentTasks + claimAheadDepth - occupiedSlots - ready.count - claimedNotStarted)
    }

    /// How many claimed tasks may wait for a slot now: as many as the slots
    /// start within ``claimAheadHorizonNanoseconds`` at the average run's
    /// pace, up to ``claimAheadLimit``; none before a run ended, while
    /// draining, or when runs are longer than the horizon.
    var claimAheadDepth: Int {
        guard !draining, let average = averageRunNanoseconds, average < Self.claimAheadHorizonNanoseconds else {
            return 0
        }
        let byPace = Double(maxConcurrentTasks) * Self.claimAheadHorizonNanoseconds / max(average, 1)
        return Int(min(Double(claimAheadLimit), byPace))
    }

    /// A run here ended after `duration`: it weighs a tenth in the average.
    mutating func runEnded(after duration: Duration) {
        let (seconds, attoseconds) = duration.components
        let run = max(0, Double(seconds) * 1e9 + Double(attoseconds) / 1e9)
        averageRunNanoseconds = averageRunNanoseconds.map { $0 + (run - $0) / 10 } ?? run
    }

    /// Nothing runs here and the last claim found no more work: new work would
    /// come from another process's commit.
    var awaitsWork: Bool {
        running.isEmpty && superseded.isEmpty && ready.isEmpty && launching == 0
            && workGeneration == claimedGeneration && !draining
    }

    /// Whether the worker, claiming at all, looks for claimable work after a
    /// change by others: it has a free slot and is not draining. A look skipped
    /// for lack of a slot is remembered: when a slot frees, new work is noted.
    mutating func looksForWork(claimsAnyJob: Bool) -> Bool {
        guard !draining, claimsAnyJob else { return false }
        if freeSlots() > 0 { return true }
        skippedLook = true
        return false
    }

    /// A slot freed: if a look for others' work was skipped meanwhile, what
    /// they committed may be due.
    private mutating func slotFreed() {
        guard skippedLook else { return }
        skippedLook = false
        workGeneration &+= 1
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
    /// `claimed`: the tasks claimed with their creation, first in line to
    /// start (take them with ``takeStartable(now:)``) and known from now on as
    /// claimed and not started (the heartbeats must not take them for a lost
    /// claim's while they start).
    mutating func releaseReservation(_ count: Int, claimed: [ClaimedTask] = []) {
        reserved -= count
        claimedNotStarted.formUnion(claimed.map(\.id))
        ready.insert(contentsOf: claimed, at: 0)
        if count > claimed.count { slotFreed() }
    }

    /// A claimed task taken to start ended without starting (its job is
    /// unknown here, its context unreadable).
    mutating func refused(_ id: TaskID) {
        claimedNotStarted.remove(id)
        launching = max(0, launching - 1)
    }

    // MARK: Ready tasks

    /// Tasks a commit claimed join the line of tasks waiting for a slot (at
    /// `now`, by the engine's clock), but those that a cancel request or a
    /// lost lease reached while their claim committed: they are returned with
    /// that reason, to end (or be forgotten) without running.
    @discardableResult
    mutating func admit(_ claimed: [ClaimedTask], now: Int64 = 0) -> [(task: ClaimedTask, reason: StopReason)] {
        if ready.isEmpty { readyMovedAt = now }
        // The usual case: nothing reached the claimed tasks while they committed.
        guard !earlyStops.isEmpty else {
            ready.append(contentsOf: claimed)
            return []
        }
        var stopped: [(task: ClaimedTask, reason: StopReason)] = []
        for task in claimed {
            switch earlyStops[task.id] {
            case let reason? where reason.endsBeforeStart:
                earlyStops[task.id] = nil
                claimedNotStarted.remove(task.id)
                stopped.append((task, reason))
            default:
                ready.append(task)
            }
        }
        return stopped
    }

    /// The ready tasks that free slots let start now, first in line first;
    /// they hold their slots until ``start(_:handle:)`` (or ``refused(_:)``).
    mutating func takeStartable(now: Int64 = 0) -> [ClaimedTask] {
        let count = min(ready.count, max(0, maxConcurrentTasks - occupiedSlots))
        guard count > 0 else { return [] }
        launching += count
        readyMovedAt = now
        defer { ready.removeFirst(count) }
        return Array(ready.prefix(count))
    }

    /// When no ready task has started for `wait` milliseconds (the runs ahead
    /// of them grew long), the ready tasks, to hand back so that other workers
    /// can start them; claiming ahead stops until a run ends here again.
    mutating func takeStaleReady(now: Int64, wait: Int64) -> [ClaimedTask] {
        guard !ready.isEmpty, now - readyMovedAt >= wait else { return [] }
        averageRunNanoseconds = nil
        return takeWholeLine()
    }

    /// Takes a task out of the line without starting it (it is cancelled, or
    /// its lease was lost); `nil` when it is not waiting there (with
    /// `attempt`: that run of it).
    mutating func removeReady(_ id: TaskID, attempt: Int? = nil) -> ClaimedTask? {
        guard let index = ready.firstIndex(where: { $0.id == id && (attempt == nil || $0.attempt == attempt) })
        else { return nil }
        claimedNotStarted.remove(id)
        return ready.remove(at: index)
    }

    /// While draining, the tasks still waiting for a slot, to hand back
    /// without running them; none otherwise.
    mutating func takeReadyToHandBack() -> [ClaimedTask] {
        guard draining else { return [] }
        return takeWholeLine()
    }

    /// Empties the line: its tasks are no longer claimed-and-not-started here.
    private mutating func takeWholeLine() -> [ClaimedTask] {
        defer { ready = [] }
        for task in ready { claimedNotStarted.remove(task.id) }
        return ready
    }

    /// A running task starts (`true`) or stops awaiting other tasks.
    mutating func noteAwaiting(_ awaiting: Bool) {
        waiting += awaiting ? 1 : -1
        if awaiting { slotFreed() }
    }

    // MARK: The commit cycle

    /// The next step of the cycle; takes the waiting completions and the due
    /// expiry into a commit.
    mutating func nextStep(claimedNotStarted: Int, claimsAnyJob: Bool) -> Step {
        let taken = completions
        completions = []
        let claimLimit =
            !draining && claimsAnyJob && workGeneration != claimedGeneration
            ? claimRoom(claimedNotStarted: claimedNotStarted) : 0
        let failingExpired = expiryDue
        expiryDue = false
        if !taken.isEmpty || claimLimit > 0 || failingExpired {
            committing = taken
            claiming = claimLimit > 0
            return .commit(
                completions: taken, claimLimit: claimLimit, generation: workGeneration, failingExpired: failingExpired)
        }
        // Slots reserved for tasks being created here may yet start a claimed task.
        if draining && running.isEmpty && superseded.isEmpty && reserved == 0 && claimedNotStarted == 0
            && ready.isEmpty && launching == 0
        {
            return .finish
        }
        return .sleep
    }

    /// A commit returned: a claim that came back short means every due task of
    /// generation `generation` was claimed.
    /// `heldBack`: a queue's limit left claimable tasks behind (see ``heldBackByLimits``).
    mutating func committed(
        generation: UInt64, claimed: Int, claimLimit: Int, claimedIDs: [TaskID] = [], heldBack: Bool = false
    ) {
        committing = []
        claiming = false
        claimedNotStarted.formUnion(claimedIDs)
        if claimed < claimLimit { claimedGeneration = max(claimedGeneration, generation) }
        if claimLimit > 0 { heldBackByLimits = heldBack }
    }

    /// A commit's results were acted on.
    mutating func processed(completions count: Int, nextCommitRunning: Bool) {
        commits += 1
        completed += count
        // Stops for tasks whose claim is still committing must wait for their
        // start; so must those of tasks claimed and not started yet.
        if !nextCommitRunning { earlyStops = earlyStops.filter { claimedNotStarted.contains($0.key) } }
    }

    /// A commit failed: its completions go back first in line, and so does the
    /// expiry of deadlines (unless draining: the next worker's recovery does it).
    mutating func commitFailed(_ failed: [TaskCompletion], failingExpired: Bool) {
        committing = []
        claiming = false
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

    /// A claimed task starts with `handle` (see ``Started``).
    mutating func start(_ task: ClaimedTask, handle: Handle) -> Started {
        claimedNotStarted.remove(task.id)
        launching = max(0, launching - 1)
        let reason = interrupting ? .shutdown : earlyStops.removeValue(forKey: task.id)
        var started = Started(stopReason: reason)
        if var earlier = running[task.id], earlier.task.attempt != task.attempt {
            if earlier.stopReason == nil { earlier.stopReason = .leaseLost }
            superseded[RunKey(id: task.id, attempt: earlier.task.attempt)] = earlier
            started.superseded = earlier.handle
        }
        running[task.id] = Running(task: task, handle: handle, stopReason: reason)
        return started
    }

    /// Sets why a task stops. The first reason stands, except that a cancel
    /// request replaces a shutdown or a timeout (the task ends cancelled, not
    /// handed back or retried). A task waiting in `ready` is taken out by a
    /// cancel request or a lost lease; another task not running yet keeps the
    /// first reason for its start.
    /// With `attempt`, only that run of the task is stopped.
    mutating func stop(_ id: TaskID, attempt: Int? = nil, reason: StopReason) -> StopResult {
        if reason.endsBeforeStart, let waiting = removeReady(id, attempt: attempt) {
            return .removedBeforeStart(waiting)
        }
        guard var task = running[id], attempt == nil || task.task.attempt == attempt else {
            if let attempt, superseded[RunKey(id: id, attempt: attempt)] != nil { return .alreadyStopping }
            if attempt == nil, earlyStops[id] == nil { earlyStops[id] = reason }
            return .notRunning
        }
        switch (task.stopReason, reason) {
        case (nil, _), (.shutdown?, .cancelRequested), (.timedOut?, .cancelRequested): task.stopReason = reason
        default: return .alreadyStopping
        }
        running[id] = task
        return .stop(task.handle)
    }

    /// A run's job ended; returns its entry (with why it was stopped), `nil` if
    /// it is not running here.
    mutating func finish(_ id: TaskID, attempt: Int) -> Running? {
        let ended: Running?
        if running[id]?.task.attempt == attempt {
            ended = running.removeValue(forKey: id)
        } else {
            ended = superseded.removeValue(forKey: RunKey(id: id, attempt: attempt))
        }
        if ended != nil { slotFreed() }
        return ended
    }

    /// Queues a completion for the next commit. After a claim that a queue's
    /// limit held back, a run ending here may make room: the next commit claims again.
    mutating func complete(_ completion: TaskCompletion) {
        completions.append(completion)
        if heldBackByLimits {
            heldBackByLimits = false
            workGeneration &+= 1
        }
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
