// The worker's timers: when delayed work becomes due, when a waiting task's
// deadline passes, when a shutdown's grace period ends (one child task of the
// worker, `timerLoop`, planned by `WorkerTimerPlan`), and when a running task's
// timeout or deadline passes (a child task of that task's own Swift task). Each
// sleeps until an absolute time of the engine's clock, so neither a clock
// advanced meanwhile nor an early wake-up loses one.
extension Worker {
    /// Looks up the next due time after `now` and wakes the cycle then, so that
    /// delayed, retried and sleeping tasks start on time without polling.
    func armDueTimer(after now: Int64) {
        state.withLock { $0.timers.lookUpDue(after: now) }
        timersChanged.signal()
    }

    /// Wakes the cycle to fail expired tasks when the earliest deadline of a
    /// pending task passes (`nil`: none has one), even while every slot is busy
    /// and nothing else would commit. Armed from the change feed's thread.
    func armDeadlineTimer(at deadline: Int64?) {
        let changed = state.withLock { state in
            !state.decisions.draining && state.timers.deadline(at: deadline)
        }
        if changed { timersChanged.signal() }
    }

    /// Runs the worker's timers until cancelled: serves look-ups of the next
    /// due time, sleeps until the earliest timer (or a change of plan), and acts
    /// on what fired.
    func timerLoop() async {
        while !Task.isCancelled {
            if let after = state.withLock({ $0.timers.takeDueLookup() }) {
                let due = try? await store.nextDueTime(after: after)
                state.withLock { $0.timers.due(at: due) }
                continue
            }
            if let next = state.withLock({ $0.timers.next }) {
                await sleep(until: next)
            } else {
                await timersChanged.wait()
            }
            let now = clock.now()
            let fired = state.withLock { state in
                let fired = state.timers.fire(now: now)
                if fired.deadlinePassed { state.decisions.deadlinePassed() }
                return fired
            }
            if fired.workDue { noteNewWork() }
            if fired.deadlinePassed { wake.signal() }
            if fired.graceEnded { interruptRunningTasks() }
        }
    }

    /// Sleeps until the clock reads `time`, or the plan changes.
    private func sleep(until time: Int64) async {
        await withTaskGroup(of: Void.self) { group in
            group.addTask { [clock] in try? await clock.sleep(until: time) }
            group.addTask { await self.timersChanged.wait() }
            await group.next()
            group.cancelAll()
        }
    }

    /// When a claimed task must stop: its attempt timeout (counted from
    /// `launchedAt`, when its job starts here: a task claimed ahead waits for
    /// a slot first) or its deadline, whichever comes first; `nil` when it has neither.
    func limit(of task: ClaimedTask, launchedAt: Int64) -> (at: Int64, reason: StopReason)? {
        var limits: [(at: Int64, reason: StopReason)] = []
        if let timeout = task.timeoutMilliseconds {
            let error = StoredError.timeout("attempt \(task.attempt) timed out after \(timeout) ms")
            let start = max(task.startedAt, launchedAt)
            limits.append((start.adding(milliseconds: timeout), .timedOut(error, retryable: true)))
        }
        if let deadline = task.deadline {
            limits.append((deadline, .timedOut(.deadlinePassed, retryable: false)))
        }
        return limits.min { $0.at < $1.at }
    }

    /// Runs a job, with a child task that stops it when its limit passes (when
    /// it has one).
    func run(
        _ task: ClaimedTask, on runner: JobRunner, in context: TaskContext,
        stoppingAt limit: (at: Int64, reason: StopReason)?
    ) async -> JobRunner.Ending {
        guard let limit else { return await runner.run(task, context) }
        return await withTaskGroup(of: JobRunner.Ending?.self) { group in
            group.addTask { await runner.run(task, context) }
            group.addTask { [clock] in
                do {
                    try await clock.sleep(until: limit.at)
                } catch {
                    return nil
                }
                self.stop(task.id, attempt: task.attempt, reason: limit.reason)
                return nil
            }
            while let result = await group.next() {
                if let ending = result {
                    group.cancelAll()
                    return ending
                }
            }
            return .threw(CancellationError())
        }
    }
}
