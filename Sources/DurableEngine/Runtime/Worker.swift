import Logging
import Synchronization

/// Runs claimed tasks for one `engine.run()`: the worker cycle.
///
/// Each cycle is one store commit that applies the completions gathered since the
/// previous commit (group commit) and claims up to the free slots. Jobs run as
/// Swift tasks; when one ends, its completion is queued and the cycle woken.
///
/// What to do is decided by ``WorkerDecisions`` (slots, claims, reservations,
/// stop reasons, shutdown phases), held under `state`'s lock with the timers;
/// this type carries the decisions out: commits, Swift tasks, timers.
///
/// States of a running task, and who changes them (all under `state`'s lock):
/// - claimed → ready (waiting for a slot, in claim order): the cycle, after its
///   commit returns the claim (or the creating caller, for tasks claimed with
///   their creation);
/// - ready → running: whoever frees a slot (a run ending, a job starting to
///   await others, a commit's results) takes the next ready tasks and starts them;
/// - ready → ended or handed back without running: a cancel request (ends it
///   cancelled), a lost lease (forgotten), a shutdown, or a heartbeat that finds
///   that none of the ready tasks started for a second (handed back as pending);
/// - running → stopping (a stop reason is set and the Swift task cancelled): a
///   cancel request (from this process or read from the store), the shutdown
///   grace timer, a timeout, or a heartbeat that finds the lease lost;
/// - running/stopping → completion queued: the task's own Swift task when the job
///   returns or throws; the cycle then commits it, fenced by owner and attempt.
final class Worker: Sendable {
    typealias StopReason = WorkerDecisions<RunHandles>.StopReason

    /// What this process holds for a task running here, besides the decisions.
    struct RunHandles {
        /// The job's Swift task (its timeout, if any, is a child of it).
        var job: Task<Void, Never>?
        var retry: RetryPolicy?
        /// The run's checkpoints (to tell a replayed step failure, never retried).
        var journal: StepJournal
        /// When the job's Swift task was made, by the engine's clock (runs'
        /// durations decide whether to claim ahead).
        var launchedAt: Int64
    }

    struct State {
        var decisions: WorkerDecisions<RunHandles>
        /// When the worker's own timers fire (`timerLoop` sleeps until then).
        var timers = WorkerTimerPlan()
    }

    let id: String
    let store: any TaskStore
    let registry: JobRegistry
    let hub: CompletionHub
    let configuration: EngineConfiguration
    let logger: Logger
    let engine: TaskEngine
    /// The queues this worker serves (`nil`: every queue).
    let queues: [String]?
    let wake = AsyncSignal()
    /// Wakes `timerLoop` when the timer plan changes.
    let timersChanged = AsyncSignal()
    /// Wakes the `ScheduleLoop` when a schedule may have changed.
    let schedulesNudge = AsyncSignal()
    let state: Mutex<State>

    init(
        engine: TaskEngine, store: any TaskStore, registry: JobRegistry, hub: CompletionHub, queues: [String]?,
        logger: Logger
    ) {
        let identity = ProcessIdentity.current
        let suffix = UInt32.random(in: 0...UInt32.max)
        self.id = "\(identity.host):\(identity.pid):\(String(suffix, radix: 16))"
        self.engine = engine
        self.queues = queues
        self.store = store
        self.registry = registry
        self.hub = hub
        self.configuration = engine.configuration
        state = Mutex(
            State(
                decisions: WorkerDecisions(
                    maxConcurrentTasks: engine.configuration.maxConcurrentTasks,
                    claimAheadLimit: engine.configuration.maxTasksClaimedAhead)))
        var logger = logger
        logger[metadataKey: "worker"] = "\(id)"
        self.logger = logger
    }

    var clock: any TaskClock { configuration.clock }

    /// Runs until shut down and drained. Store errors are logged and retried.
    func run() async throws {
        let identity = ProcessIdentity.current
        let jobs = registry.names
        let now = clock.now()
        try await store.registerWorker(
            WorkerInfo(
                id: id, host: identity.host, bootID: identity.bootID, pid: identity.pid,
                processStart: identity.processStart, concurrency: configuration.maxConcurrentTasks, jobs: jobs),
            now: now, leaseUntil: now + configuration.leaseDuration.milliseconds)
        logger.info("worker started", metadata: ["jobs": "\(jobs.joined(separator: ","))"])
        await recoverAbandonedTasks()
        // The change feed's first read looks for due work, cancel requests and deadlines.
        engine.changes.readSoon()

        await withDiscardingTaskGroup { group in
            group.addTask { await self.reportUnknownJobs(registered: jobs) }
            group.addTask { await self.heartbeatLoop() }
            group.addTask { await self.recoveryLoop() }
            group.addTask { await self.timerLoop() }
            if let schedules = store as? any SchedulingStore {
                group.addTask { await ScheduleLoop(worker: self, store: schedules).run() }
            }
            await cycleLoop()
            group.cancelAll()
        }
        // A store that failed for too long would keep the worker waiting for its
        // lock here: the row stays, and the next worker finds this process gone.
        let storeFailing = engine.storeHealth.failedPastTimeout
        // Nothing runs here any more: no store failure of this worker concerns waiters.
        engine.storeHealth.reset()
        do {
            if !storeFailing { try await store.stopWorker(id, now: clock.now()) }
        } catch {
            logger.warning("could not mark the worker stopped: \(error)")
        }
        let (commits, completed) = state.withLock { ($0.decisions.commits, $0.decisions.completed) }
        logger.info("worker stopped", metadata: ["commits": "\(commits)", "completions": "\(completed)"])
    }

    // MARK: Signals from outside

    /// New tasks were committed by this process.
    func noteNewWork() {
        state.withLock { $0.decisions.noteNewWork() }
        wake.signal()
    }

    /// Another process committed a task that can be claimed now: with a free
    /// slot, claims at once (`true`); without one, new work is noted when a
    /// slot frees (``WorkerDecisions/looksForWork(claimsAnyJob:)``).
    func claimIfFree() -> Bool {
        let claiming = claimsAnyJob
        guard state.withLock({ $0.decisions.looksForWork(claimsAnyJob: claiming) }) else { return false }
        noteNewWork()
        return true
    }

    /// A schedule was stored, changed or deleted by this process: its schedule loop looks again.
    func schedulesChanged() {
        schedulesNudge.signal()
    }

    /// Promises up to `wanted` slots to tasks that this process is creating, so
    /// they can be claimed in their creation's transaction and start at once: only
    /// when the worker is idle (its last claim found nothing more to do) and not
    /// stopping, so that no older pending task is passed over.
    func reserveSlots(_ wanted: Int) -> Int {
        state.withLock { $0.decisions.reserve(wanted) }
    }

    /// Starts the tasks claimed with their creation and gives back the slots
    /// promised to them.
    func startClaimed(_ tasks: [ClaimedTask], reserved: Int) {
        state.withLock { $0.decisions.releaseReservation(reserved, claimed: tasks) }
        engine.metrics?.claimed(tasks)
        startReady()
        if tasks.count < reserved { wake.signal() }
    }

    /// Ends a claimed task that never started: cancelled, for a cancel request;
    /// nothing to store for a lost lease (the task is another worker's now).
    func endBeforeStart(
        _ task: ClaimedTask, because reason: StopReason, now: Int64, in decisions: inout WorkerDecisions<RunHandles>
    ) {
        guard case .cancelRequested(let message) = reason else { return }
        decisions.complete(
            TaskCompletion(
                id: task.id, job: task.job, owner: id, attempt: task.attempt, startedAt: task.startedAt,
                ending: .cancelled(.cancellation(message)), endedAt: now))
    }

    /// Starts the claimed tasks waiting for a slot that free slots now allow
    /// (again after any that were refused at their start gave theirs back).
    func startReady() {
        while true {
            let now = clock.now()
            let tasks = state.withLock { $0.decisions.takeStartable(now: now) }
            if tasks.isEmpty { return }
            for task in tasks { start(task) }
        }
    }

    /// While draining, hands the claimed tasks still waiting for a slot back
    /// as pending, without running them.
    func handBackReady() {
        handBack(type: "Durable.Shutdown", "worker \(id) shut down before the task started", now: clock.now()) {
            $0.takeReadyToHandBack()
        }
    }

    /// How long claimed tasks may wait for a slot while none of them starts
    /// before they are handed back (looked at by the heartbeats).
    static let readyWaitLimit: Duration = .seconds(1)

    /// Hands the claimed tasks waiting for a slot back as pending, without
    /// running them, when none of them has started for ``readyWaitLimit``:
    /// the runs ahead of them grew long, and other workers may have room.
    func handBackStaleReady() {
        let now = clock.now()
        let wait = Self.readyWaitLimit.milliseconds
        handBack(
            type: "Durable.ClaimedAhead",
            "task waited more than \(wait) ms for a slot of worker \(id); handed back for other workers", now: now
        ) { $0.takeStaleReady(now: now, wait: wait) }
    }

    /// Queues a hand-back (as pending, with an `interrupted` attempt saying
    /// `message`) of the ready tasks `take` takes out of the line.
    private func handBack(
        type: String, _ message: String, now: Int64, taking take: (inout WorkerDecisions<RunHandles>) -> [ClaimedTask]
    ) {
        let handedBack = state.withLock { state in
            let tasks = take(&state.decisions)
            for task in tasks {
                state.decisions.complete(
                    TaskCompletion(
                        id: task.id, job: task.job, owner: id, attempt: task.attempt, startedAt: task.startedAt,
                        ending: .released(StoredError(kind: .interrupted, type: type, message: message)),
                        endedAt: now))
            }
            return tasks.count
        }
        if handedBack > 0 {
            logger.info("handing back \(handedBack) claimed task(s) that had not started: \(message)")
            wake.signal()
        }
    }

    /// Nothing runs here and the last claim found no more work: new work would come
    /// from another process's commit.
    var awaitsWork: Bool {
        state.withLock { $0.decisions.awaitsWork }
    }

    /// A job running here starts (`true`) or stops awaiting other tasks.
    func noteAwaiting(_ awaiting: Bool) {
        state.withLock { $0.decisions.noteAwaiting(awaiting) }
        if awaiting {
            startReady()
            wake.signal()
        }
    }

    /// Delivers a cancel request to a task running here; `false` if it is not.
    @discardableResult
    func deliverCancel(of id: TaskID, message: String?) -> Bool {
        stop(id, reason: .cancelRequested(message))
    }

    /// Stops claiming; running tasks get the grace period (none when `immediately`),
    /// then are cancelled and handed back as pending.
    func beginShutdown(immediately: Bool) {
        beginShutdown(gracePeriod: immediately ? .zero : configuration.gracefulShutdownTimeout)
    }

    /// Stops claiming; running tasks may finish within `gracePeriod` (`nil`: as long
    /// as they take), then are cancelled and handed back as pending. Calling again
    /// with a shorter period shortens the wait.
    func beginShutdown(gracePeriod: Duration?) {
        let now = clock.now()
        let interruptNow = state.withLock { state -> Bool in
            state.decisions.beginShutdown()
            state.timers.drain()
            guard let gracePeriod, gracePeriod > .zero else { return gracePeriod != nil }
            state.timers.grace(endsAt: now.adding(milliseconds: gracePeriod.milliseconds))
            return false
        }
        handBackReady()
        if interruptNow { interruptRunningTasks() }
        timersChanged.signal()
        wake.signal()
    }

    func interruptRunningTasks() {
        let ids = state.withLock { $0.decisions.interrupt() }
        if !ids.isEmpty {
            logger.info("handing back \(ids.count) running task(s) at shutdown")
        }
        for id in ids { stop(id, reason: .shutdown) }
    }

    /// Sets the stop reason of a running task (see ``WorkerDecisions/stop(_:attempt:reason:)``)
    /// and cancels its Swift task; `false` when it is not running here.
    /// A task claimed here and waiting for a slot ends cancelled without
    /// running (a cancel request), or is forgotten (its lease was lost).
    @discardableResult
    func stop(_ id: TaskID, attempt: Int? = nil, reason: StopReason) -> Bool {
        let now = clock.now()
        let result = state.withLock { state in
            let result = state.decisions.stop(id, attempt: attempt, reason: reason)
            if case .removedBeforeStart(let task) = result {
                endBeforeStart(task, because: reason, now: now, in: &state.decisions)
            }
            return result
        }
        switch result {
        case .notRunning: return false
        case .alreadyStopping: return true
        case .stop(let handles):
            handles.job?.cancel()
            return true
        case .removedBeforeStart:
            wake.signal()
            return true
        }
    }
}
