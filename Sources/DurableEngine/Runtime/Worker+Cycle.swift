import Logging

// The commit cycle: completions in, claims out, jobs started.
extension Worker {
    private enum Step {
        case commit(completions: [TaskCompletion], claimLimit: Int, generation: UInt64, failingExpired: Bool)
        case sleep
        case finish
    }

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
            let step = nextStep(claimedNotStarted: unprocessed?.result.claimed.count ?? 0)
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
                if state.withLock({ $0.draining }), failures >= 20 || engine.storeHealth.failedPastTimeout {
                    // Nothing more can be stored: running tasks stop too.
                    beginShutdown(gracePeriod: .zero)
                    dropCompletionsAfterFailures()
                }
            }
        }
    }

    /// The next commit's completions and claim limit; `claimedNotStarted` tasks
    /// (claimed by a commit whose results are not acted on yet) hold slots.
    private func nextStep(claimedNotStarted: Int) -> Step {
        let claimingJobs = claimsAnyJob
        return state.withLock { state -> Step in
            let completions = state.completions
            state.completions = []
            var claimLimit = 0
            if !state.draining, claimingJobs, state.workGeneration != state.claimedGeneration {
                claimLimit = max(
                    0,
                    configuration.maxConcurrentTasks - state.running.count - claimedNotStarted + state.waiting
                        - state.reserved)
            }
            let failingExpired = state.expiryDue
            state.expiryDue = false
            if !completions.isEmpty || claimLimit > 0 || failingExpired {
                return .commit(
                    completions: completions, claimLimit: claimLimit, generation: state.workGeneration,
                    failingExpired: failingExpired)
            }
            if state.draining && state.running.isEmpty && claimedNotStarted == 0 { return .finish }
            return .sleep
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
                leaseUntil: now + configuration.leaseDuration.milliseconds)
            : nil
        do {
            let result = try await store.completeAndClaim(
                completions, claim: claim, failingExpired: failingExpired, now: now)
            if engine.storeHealth.commitSucceeded() { logger.notice("the store works again") }
            // Known now, not when the results are acted on: the next commit, which
            // may start before that, must not claim again for nothing.
            if result.claimed.count < claimLimit {
                state.withLock { $0.claimedGeneration = max($0.claimedGeneration, generation) }
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
            state.withLock { state in
                state.completions.insert(contentsOf: completions, at: 0)
                if failingExpired, !state.draining { state.expiryDue = true }
            }
            return nil
        }
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
        state.withLock { state in
            state.commits += 1
            state.completed += committed.completions
        }
        if drained { armDueTimer(after: committed.now) }
        if result.requeued { noteNewWork() }
        // Tasks back to pending may carry deadlines; after an expiry, the next one counts.
        if result.requeued || committed.failedExpired { engine.changes.readSoon() }
        for task in result.claimed { start(task) }
        // Stops for tasks whose claim is still committing must wait for `start`.
        if !nextCommitRunning { state.withLock { $0.earlyStops.removeAll() } }
    }

    private func dropCompletionsAfterFailures() {
        let dropped = state.withLock { state -> [TaskCompletion] in
            defer { state.completions = [] }
            return state.completions
        }
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
        let (claimingJobs, jobs, now) = (claimsAnyJob, claimJobs, clock.now())
        return state.withLock { state in
            WorkerInterest(
                owner: id, readsCancelRequests: !state.running.isEmpty,
                looksForWork: !state.draining && claimingJobs
                    && state.running.count - state.waiting < configuration.maxConcurrentTasks,
                jobs: jobs, now: now)
        }
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
        armDeadlineTimer(at: changes.earliestPendingDeadline)
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
        let handle = state.withLock { state -> Task<Void, Never>? in
            var running = RunningTask(task: task, retry: retry, journal: taskContext.journal)
            running.limitTimer = limitTimer(for: task)
            // A stop that arrived while the claim was committing applies now.
            running.stopReason = state.interrupting ? .shutdown : state.earlyStops.removeValue(forKey: task.id)
            let handle = Task {
                let ending = await runner.run(task, taskContext)
                self.finish(task, ending: ending)
            }
            running.handle = handle
            state.running[task.id] = running
            return running.stopReason == nil ? nil : handle
        }
        handle?.cancel()
    }

    /// Ends a claimed task without running it: its job is unknown or its stored
    /// context is unreadable.
    private func refuse(_ task: ClaimedTask, _ error: StoredError) {
        logger.error("\(error.message)")
        state.withLock { state in
            state.completions.append(
                TaskCompletion(
                    id: task.id, owner: id, attempt: task.attempt, startedAt: task.startedAt, ending: .failed(error)))
        }
        wake.signal()
    }

    /// Turns how the job ended, and why it was stopped, into what to store.
    private func finish(_ task: ClaimedTask, ending: JobRunner.Ending) {
        let now = clock.now()
        state.withLock { state in
            guard let running = state.running.removeValue(forKey: task.id) else { return }
            running.limitTimer?.cancel()
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
                        let retryable = error.isRetryable && !running.journal.isReplayedFailure(error)
                        stored = failure(StoredError(failure: error), retryable: retryable, of: running, now: now)
                    }
                }
            }
            state.completions.append(
                TaskCompletion(
                    id: task.id, owner: id, attempt: task.attempt, startedAt: task.startedAt, ending: stored))
        }
        wake.signal()
    }

    /// The pauses between tries of a commit while the store fails: 100 ms,
    /// doubling to 5 s, without jitter (one writer per process).
    static let storeFailureBackoff = Backoff(initial: .milliseconds(100), maximum: .seconds(5))

    /// A failed attempt: retried at its backoff time if the error allows it, the
    /// policy has attempts left and the deadline is not passed by then.
    private func failure(_ error: StoredError, retryable: Bool, of running: RunningTask, now: Int64)
        -> TaskCompletion.Ending
    {
        let failures = running.task.failures + 1
        guard retryable, let policy = running.retry, failures < policy.maxAttempts else { return .failed(error) }
        let runAt = now + policy.delayMilliseconds(afterFailure: failures, unit: engine.configuration.random.next())
        if let deadline = running.task.deadline, runAt >= deadline { return .failed(error) }
        return .retry(error, runAt: runAt)
    }
}
