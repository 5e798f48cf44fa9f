import Logging

// The commit cycle: completions in, claims out, jobs started.
extension Worker {
    /// What a commit brought back, acted on while the next commit runs.
    private struct Committed {
        var result: CycleResult
        var completions: Int
        var claimLimit: Int
        var failedExpired: Bool
        var now: Int64
    }

    /// Commits in a two-stage pipeline: while one commit runs on the store's
    /// writer, this task acts on the previous one's results (wakes waiters,
    /// starts the claimed jobs), so the writer does not wait for that work; the
    /// completions that arrive meanwhile make up the next commit.
    func cycleLoop() async {
        var failures = 0
        var unprocessed: Committed?
        while true {
            let claimingJobs = claimsAnyJob
            let step = state.withLock {
                $0.decisions.nextStep(
                    claimedNotStarted: unprocessed?.result.claimed.count ?? 0, claimsAnyJob: claimingJobs)
            }
            guard case .commit(let completions, let claimLimit, let generation, let failingExpired) = step else {
                if let committed = unprocessed {
                    process(committed, nextCommitRunning: false)
                    unprocessed = nil
                    continue
                }
                if case .finish = step { return }
                await wake.wait()
                continue
            }
            let outcome: Committed?
            if let previous = unprocessed {
                async let next = commit(
                    completions, claimLimit: claimLimit, generation: generation, failingExpired: failingExpired)
                process(previous, nextCommitRunning: true)
                unprocessed = nil
                outcome = await next
            } else {
                // Nothing to overlap with: no child task (and no thread hop) for it.
                outcome = await commit(
                    completions, claimLimit: claimLimit, generation: generation, failingExpired: failingExpired)
            }
            if let committed = outcome {
                failures = 0
                unprocessed = committed
            } else {
                failures += 1
                // The store is failing (disk full, locked for too long): keep the
                // completions and try again, slower each time. At shutdown, give
                // up once waiters were told (or after 20 tries): the tasks stay
                // running in the store and are recovered when the store works.
                try? await Task.sleep(for: Self.storeFailureBackoff.pause(afterFailure: failures, unit: 0.5))
                if state.withLock({ $0.decisions.draining }), failures >= 20 || engine.storeHealth.failedPastTimeout {
                    // Nothing more can be stored: running tasks stop too.
                    beginShutdown(gracePeriod: .zero)
                    dropCompletionsAfterFailures()
                }
            }
        }
    }

    /// One store commit. Returns `nil` when the store failed (the completions, and
    /// the expiry of deadlines, are put back for the next try).
    private func commit(
        _ completions: [TaskCompletion], claimLimit: Int, generation: UInt64, failingExpired: Bool
    ) async -> Committed? {
        let now = clock.now()
        let claim = claimLimit > 0
            ? ClaimRequest(
                owner: id, limit: claimLimit,
                jobs: configuration.unknownJobPolicy == .fail ? nil : registry.names,
                leaseUntil: now + configuration.leaseDuration.milliseconds, queues: queues)
            : nil
        // Creations queued behind one being written ride in this commit.
        let riders = store.commitsCreationsInCycles ? engine.creations.takeQueued() : nil
        do {
            let started = engine.metrics == nil ? nil : ContinuousClock.now
            let result = try await commitCycle(
                completions, riders: riders, claim: claim, failingExpired: failingExpired, now: now)
            if let metrics = engine.metrics, let started { record(result, of: completions, startedAt: started, in: metrics) }
            if engine.storeHealth.commitSucceeded() { logger.notice("the store works again") }
            // Known now, not when the results are acted on: the next commit, which
            // may start before that, must not claim again for nothing.
            state.withLock {
                $0.decisions.committed(
                    generation: generation, claimed: result.claimed.count, claimLimit: claimLimit,
                    claimedIDs: result.claimed.map(\.id), heldBack: result.heldBack)
            }
            return Committed(
                result: result, completions: completions.count, claimLimit: claimLimit, failedExpired: failingExpired,
                now: now)
        } catch {
            // The first failure of a streak is an error; the retries that follow are
            // reported by `engine.health` and logged quietly.
            let first = engine.storeHealth.health == .healthy
            logger.log(
                level: first ? .error : .info,
                "could not commit \(completions.count) completion(s)\(first ? "; retrying" : " (still)"): \(error)")
            engine.storeHealth.commitFailed(error)
            state.withLock { $0.decisions.commitFailed(completions, failingExpired: failingExpired) }
            if claim != nil, (error as? DurableError)?.code == .commitOutcomeUnknown {
                await releaseClaimOfUnknownOutcome()
            }
            return nil
        }
    }

    /// The store's commit of a cycle, with the tasks of `riders` (creations
    /// queued behind another) inserted in the same transaction. When storing them
    /// fails for what one call asks (a key taken with another input, say), the
    /// cycle commits alone and the riders are stored as queued creations are, each
    /// call all or none; when the store fails (locked, full), the riders fail with
    /// the cycle, which is tried again. Every rider is answered on every path.
    private func commitCycle(
        _ completions: [TaskCompletion], riders: GroupCommit<[NewTask], [CreatedTask]>.Riders?, claim: ClaimRequest?,
        failingExpired: Bool, now: Int64
    ) async throws -> CycleResult {
        guard let riders else {
            return try await store.completeAndClaim(completions, claim: claim, failingExpired: failingExpired, now: now)
        }
        let calls = riders.requests
        let result: CycleResult
        do {
            result = try await store.createCompleteAndClaim(
                calls.flatMap { $0 }, completions: completions, claim: claim, failingExpired: failingExpired, now: now)
        } catch let error as DurableError where TaskEngine.failsOneCall(error) {
            engine.creations.finish(riders, with: await engine.storeTogether(calls))
            return try await store.completeAndClaim(completions, claim: claim, failingExpired: failingExpired, now: now)
        } catch {
            // Not one call's doing: a second and a third write would fail alike.
            engine.creations.finish(riders, with: calls.map { _ in .failure(error) })
            throw error
        }
        engine.creations.finish(riders, with: TaskEngine.split(result.created, into: calls))
        engine.readDeadlinesSoon(ifAnyIn: calls.joined())
        return result
    }

    /// Reports a commit to the metrics: its duration and size, the runs whose
    /// ends it stored (not the stale ones), the tasks it claimed, the slots.
    private func record(
        _ result: CycleResult, of completions: [TaskCompletion], startedAt: ContinuousClock.Instant,
        in metrics: EngineMetrics
    ) {
        metrics.committed(completions: completions.count, took: ContinuousClock.now - startedAt)
        let stale = Set(result.stale)
        metrics.stored(completions.lazy.filter { !stale.contains($0.id) })
        metrics.claimed(result.claimed)
        // Tasks claimed ahead wait for a slot: at most every slot runs.
        let running = min(
            configuration.maxConcurrentTasks, state.withLock { $0.decisions.running.count } + result.claimed.count)
        metrics.slots(running: running, free: max(0, configuration.maxConcurrentTasks - running))
    }

    /// Acts on a commit's results: wakes this process's waiters, delivers cancel
    /// requests, starts the claimed jobs.
    private func process(_ committed: Committed, nextCommitRunning: Bool) {
        let result = committed.result
        engine.apply(result.effects)
        for id in result.stale {
            logger.notice("task \(id) was taken over by another worker; this run's result was not stored")
        }
        let drained = result.claimed.count < committed.claimLimit
        if drained { armDueTimer(after: committed.now) }
        if result.requeued { noteNewWork() }
        // Tasks back to pending may carry deadlines; after an expiry, the next one counts.
        if result.requeued || committed.failedExpired { engine.changes.readSoon() }
        let now = clock.now()
        let endedBeforeStart = state.withLock { state in
            let stopped = state.decisions.admit(result.claimed, now: now)
            for (task, reason) in stopped { endBeforeStart(task, because: reason, now: now, in: &state.decisions) }
            return !stopped.isEmpty
        }
        if endedBeforeStart { wake.signal() }
        handBackReady()
        startReady()
        state.withLock {
            $0.decisions.processed(completions: committed.completions, nextCommitRunning: nextCommitRunning)
        }
    }

    private func dropCompletionsAfterFailures() {
        let dropped = state.withLock { $0.decisions.dropCompletions() }
        guard !dropped.isEmpty else { return }
        logger.error(
            """
            giving up on storing \(dropped.count) completion(s) at shutdown; their tasks stay running in \
            the store and run again when a worker recovers them (at once on this host, elsewhere when this \
            worker's lease expires)
            """,
            metadata: ["tasks": "\(dropped.map(\.id.rawValue))"])
    }

    /// What this worker wants read after another process's commit: cancel
    /// requests while it runs tasks, and claimable work while it has free slots.
    var changeInterest: WorkerInterest {
        let claimingJobs = claimsAnyJob
        let (runsTasks, looksForWork) = state.withLock { state in
            (!state.decisions.running.isEmpty, state.decisions.looksForWork(claimsAnyJob: claimingJobs))
        }
        // The job list is only read (and copied) when the feed looks for work.
        return WorkerInterest(
            owner: id, readsCancelRequests: runsTasks, looksForWork: looksForWork,
            jobs: looksForWork ? claimJobs : nil, queues: queues, now: clock.now())
    }

    /// Acts on what the change feed read for this worker: delivers cancel
    /// requests, wakes the cycle for claimable work (or arms the due timer), and
    /// arms the deadline timer.
    func apply(_ changes: WorkerChanges) {
        for (id, message) in changes.cancelRequests {
            _ = deliverCancel(of: id, message: message)
        }
        switch changes.hasClaimableTask {
        case true?: noteNewWork()
        case false?: armDueTimer(after: changes.now)
        case nil: break
        }
        if changes.readDeadlines { armDeadlineTimer(at: changes.earliestPendingDeadline) }
    }

    /// Whether this worker claims tasks at all (it has jobs, or fails unknown ones).
    var claimsAnyJob: Bool {
        configuration.unknownJobPolicy == .fail || !registry.names.isEmpty
    }

    var claimJobs: [String]? {
        configuration.unknownJobPolicy == .fail ? nil : registry.names
    }

    // MARK: Running one task

    func start(_ task: ClaimedTask) {
        let context: [String: String]
        do {
            context = try task.context.map { try StoredJSON.decode([String: String].self, from: $0) } ?? [:]
        } catch {
            return refuse(
                task,
                StoredError(
                    kind: .undecodableInput, type: String(reflecting: type(of: error)),
                    message: "task \(task.id) (\(task.name)) of job \(task.job): the stored context is not a JSON "
                        + "object of strings: \(error)"))
        }
        guard let runner = registry.runner(named: task.job) else {
            return refuse(
                task,
                StoredError(
                    kind: .unknownJob, type: "Durable.UnknownJob",
                    message: "task \(task.id) (\(task.name)) names job \"\(task.job)\", which is not registered in this process"))
        }
        let taskContext = TaskContext(
            taskID: task.id, name: task.name, job: task.job, values: context, attempt: task.attempt,
            completedTaskID: task.callbackOf, deadlineMilliseconds: task.deadline, engine: engine, baseLogger: logger,
            journal: StepJournal(
                taskID: task.id, taskName: task.name, owner: id, attempt: task.attempt, store: store, clock: clock))
        let retry = task.retry.flatMap { try? StoredJSON.decode(RetryPolicy.self, from: $0) }
        let launchedAt = clock.now()
        let limit = limit(of: task, launchedAt: launchedAt)
        let (stopNow, superseded) = state.withLock { state -> (Task<Void, Never>?, Task<Void, Never>?) in
            let job = Task {
                let ending =
                    if let tracing = self.engine.tracing {
                        await tracing.run(task, stoppedBecause: { self.stopOutcome(of: task) }) {
                            await self.run(task, on: runner, in: taskContext, stoppingAt: limit)
                        }
                    } else {
                        await self.run(task, on: runner, in: taskContext, stoppingAt: limit)
                    }
                self.finish(task, ending: ending)
            }
            let handles = RunHandles(
                job: job, retry: retry, journal: taskContext.journal, launchedAt: launchedAt)
            // A stop that arrived while the claim was committing applies now.
            let started = state.decisions.start(task, handle: handles)
            return (started.stopReason == nil ? nil : job, started.superseded?.job)
        }
        stopNow?.cancel()
        if let superseded {
            logger.warning("task \(task.id) was claimed here again (attempt \(task.attempt)); stopping the earlier run")
            superseded.cancel()
        }
    }

    /// How a run that this worker stopped ends, for its span: `nil` when it
    /// was not stopped (the job ended by itself).
    private func stopOutcome(of task: ClaimedTask) -> (outcome: String, error: StoredError?)? {
        let reason = state.withLock { state in
            state.decisions.running[task.id].flatMap { $0.task.attempt == task.attempt ? $0.stopReason : nil }
        }
        switch reason {
        case nil: return nil
        case .cancelRequested?: return ("cancelled", nil)
        case .shutdown?, .leaseLost?: return ("released", nil)
        case .timedOut(let error, _)?: return ("failed", error)
        }
    }

    /// Ends a claimed task without running it: its job is unknown or its stored
    /// context is unreadable.
    private func refuse(_ task: ClaimedTask, _ error: StoredError) {
        logger.error("\(error.message)")
        state.withLock { state in
            state.decisions.refused(task.id)
            state.decisions.complete(
                TaskCompletion(
                    id: task.id, job: task.job, owner: id, attempt: task.attempt, startedAt: task.startedAt,
                    ending: .failed(error), endedAt: clock.now()))
        }
        wake.signal()
    }

    /// Turns how the job ended, and why it was stopped, into what to store.
    private func finish(_ task: ClaimedTask, ending: JobRunner.Ending) {
        let now = clock.now()
        state.withLock { state in
            guard let running = state.decisions.finish(task.id, attempt: task.attempt) else { return }
            state.decisions.runEnded(after: .milliseconds(now - running.handle.launchedAt))
            let stored: TaskCompletion.Ending
            switch ending {
            case .returned(let json):
                stored = .succeeded(result: json)
            case .codingFailed(let error):
                stored = .failed(error)
            case .threw(let error):
                switch running.stopReason {
                case .cancelRequested(let message):
                    stored = .cancelled(.cancellation(message))
                case .shutdown:
                    stored = .released(
                        StoredError(
                            kind: .interrupted, type: "Durable.Shutdown",
                            message: "worker \(id) shut down before the task finished"))
                case .leaseLost:
                    stored = .released(
                        StoredError(kind: .interrupted, type: "Durable.LeaseLost", message: "worker \(id) lost its lease"))
                case .timedOut(let timeout, let retryable):
                    stored = failure(timeout, retryable: retryable, of: running, now: now)
                case nil:
                    if let suspension = error as? Suspension {
                        stored = .suspended(runAt: suspension.until)
                    } else if let cancelled = error as? CancelledError {
                        stored = .cancelled(.cancellation(cancelled.message))
                    } else if error is CancellationError {
                        stored = .cancelled(.cancellation(nil))
                    } else {
                        let retryable = error.isRetryable && !running.handle.journal.isReplayedFailure(error)
                        stored = failure(StoredError(failure: error), retryable: retryable, of: running, now: now)
                    }
                }
            }
            state.decisions.complete(
                TaskCompletion(
                    id: task.id, job: task.job, owner: id, attempt: task.attempt, startedAt: task.startedAt,
                    ending: stored, endedAt: now))
        }
        startReady()
        wake.signal()
    }

    /// The pauses between tries of a commit while the store fails: 100 ms,
    /// doubling to 5 s, without jitter (one writer per process).
    static let storeFailureBackoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))

    /// A failed attempt: retried at its backoff time if the error allows it, the
    /// policy has attempts left and the deadline is not passed by then.
    private func failure(
        _ error: StoredError, retryable: Bool, of running: WorkerDecisions<RunHandles>.Running, now: Int64
    ) -> TaskCompletion.Ending {
        let failures = running.task.failures + 1
        guard retryable, let policy = running.handle.retry, failures < policy.maxAttempts else { return .failed(error) }
        let runAt = now + policy.delayMilliseconds(afterFailure: failures, unit: engine.configuration.random.next())
        if let deadline = running.task.deadline, runAt >= deadline { return .failed(error) }
        return .retry(error, runAt: runAt)
    }
}
