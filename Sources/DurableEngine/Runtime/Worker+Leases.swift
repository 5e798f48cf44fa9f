import Logging

// Leases, heartbeats and recovery of abandoned tasks.
extension Worker {
    /// Renews the leases of running tasks; a task whose lease was lost (another
    /// worker recovered it) is stopped here.
    func heartbeatLoop() async {
        var suspectedOrphans: [TaskID: Int] = [:]
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: configuration.effectiveHeartbeatInterval)
                let owned = try await renewLeases()
                // Runs the store says this worker holds but nothing here knows of,
                // at two heartbeats in a row (the same attempt) with no claim under
                // way at either: handed back.
                let (orphans, claiming) = unknownRuns(among: owned)
                if claiming {
                    // A claim's tasks are unknown here until it returns: look again later.
                    suspectedOrphans = [:]
                } else {
                    let confirmed = orphans.filter { suspectedOrphans[$0.key] == $0.value }
                    suspectedOrphans = orphans.filter { confirmed[$0.key] == nil }
                    if !confirmed.isEmpty { try await releaseOrphans(confirmed) }
                }
                let candidates = state.withLock { state in
                    state.decisions.running.filter { owned[$0.key] == nil }.map { ($0.key, $0.value.task.attempt) }
                        + state.decisions.ready.filter { owned[$0.id] != $0.attempt }.map { ($0.id, $0.attempt) }
                }
                handBackStaleReady()
                for (task, attempt) in candidates {
                    // Claimed after the heartbeat read? Then the store still shows us.
                    let record = try await store.task(task)
                    if record?.status != .running || record?.owner != id || record?.attempt != attempt {
                        logger.warning("lost the lease of task \(task); stopping this run")
                        stop(task, attempt: attempt, reason: .leaseLost)
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                logger.warning("could not renew leases: \(error)")
            }
        }
    }

    /// Renews the leases of the tasks this worker holds in the store; returns
    /// them, each with the attempt it holds.
    private func renewLeases() async throws -> [TaskID: Int] {
        let now = clock.now()
        return try await store.heartbeat(owner: id, now: now, leaseUntil: now + configuration.leaseDuration.milliseconds)
    }

    /// The runs of `held` (task and attempt) that nothing here knows of, and
    /// whether a claim is under way (its tasks are not known until it returns).
    private func unknownRuns(among held: [TaskID: Int]) -> (runs: [TaskID: Int], claiming: Bool) {
        state.withLock { state in
            let decisions = state.decisions
            let known = Set(decisions.running.keys).union(decisions.superseded.keys.map(\.id))
                .union(decisions.completions.map(\.id)).union(decisions.committing.map(\.id))
                .union(decisions.claimedNotStarted)
            return (held.filter { !known.contains($0.key) }, decisions.claiming || decisions.reserved > 0)
        }
    }

    /// After a commit with a claim whose outcome is unknown (its connection was
    /// lost once it was sent): the claim may have committed, and no claim is
    /// under way now, so what the store says this worker holds and nothing here
    /// knows of is that claim's, and is handed back at once (not after two
    /// heartbeats). A failure here leaves it to the heartbeats.
    func releaseClaimOfUnknownOutcome() async {
        do {
            let (orphans, claiming) = unknownRuns(among: try await renewLeases())
            if !claiming, !orphans.isEmpty { try await releaseOrphans(orphans) }
        } catch {
            logger.debug("could not look for the tasks of a claim of unknown outcome: \(error)")
        }
    }

    /// Hands back runs (task and attempt) this worker holds in the store without
    /// running them: what a claim leaves when its commit got no answer (a
    /// connection lost at `COMMIT`) but did commit. Fenced by owner and attempt,
    /// like any completion: a task handed back and claimed again meanwhile is left.
    private func releaseOrphans(_ runs: [TaskID: Int]) async throws {
        var completions: [TaskCompletion] = []
        for (task, attempt) in runs.sorted(by: { $0.key < $1.key }) {
            guard let record = try await store.task(task), record.status == .running, record.owner == id,
                record.attempt == attempt
            else { continue }
            let error = StoredError(
                kind: .interrupted, type: "Durable.Recovery",
                message: "worker \(id) held task \(task) without running it (a claim whose commit was not confirmed)")
            completions.append(
                TaskCompletion(
                    id: task, owner: id, attempt: record.attempt, startedAt: record.startedAt ?? clock.now(),
                    ending: .released(error)))
        }
        guard !completions.isEmpty else { return }
        logger.warning(
            "handing back \(completions.count) task(s) this worker held without running them",
            metadata: ["tasks": "\(completions.map(\.id.rawValue))"])
        let result = try await store.completeAndClaim(completions, claim: nil, now: clock.now())
        // A cancel requested meanwhile ended a task instead: waiters here learn it now.
        engine.apply(result.effects)
        if result.requeued { noteNewWork() }
    }

    /// Looks for abandoned tasks every recovery interval, and has the change
    /// feed look for due work and cancel requests (a safety net for missed
    /// signals; its thread does the reads, off the cooperative pool).
    func recoveryLoop() async {
        while !Task.isCancelled {
            do {
                try await clock.sleep(for: configuration.recoveryInterval)
            } catch {
                return
            }
            await recoverAbandonedTasks()
            engine.changes.readSoon()
        }
    }

    /// Hands back the tasks of provably dead workers (same host, process gone)
    /// at once, and of any worker whose lease expired.
    func recoverAbandonedTasks() async {
        do {
            let identity = ProcessIdentity.current
            let dead = try await store.activeWorkers()
                .filter { $0.id != id && identity.provesDead($0) }
                .map(\.id)
            let recovery = try await store.recoverTasks(deadOwners: dead, now: clock.now())
            engine.apply(recovery.effects)
            engine.metrics?.abandoned(jobs: recovery.abandonedJobs)
            // Deadlines that passed while nobody ran the tasks (also recovered ones).
            engine.apply(try await store.expireDeadlines(now: clock.now()))
            let cancelled = recovery.effects.finished.count
            if !recovery.requeued.isEmpty || cancelled > 0 {
                logger.notice(
                    "recovered \(recovery.requeued.count) abandoned task(s) as pending, \(cancelled) as cancelled",
                    metadata: ["dead-workers": "\(dead)"])
            }
            if !recovery.requeued.isEmpty { noteNewWork() }
        } catch is CancellationError {
            return
        } catch {
            logger.warning("could not recover abandoned tasks: \(error)")
        }
    }

    /// Logs the pending tasks that this process cannot run, once at start.
    func reportUnknownJobs(registered: [String]) async {
        guard configuration.unknownJobPolicy == .leavePending else { return }
        do {
            for (job, count) in try await store.pendingTasksOfOtherJobs(than: registered).sorted(by: { $0.key < $1.key }) {
                logger.warning(
                    "\(count) pending task(s) of job \"\(job)\" stay pending: the job is not registered in this process")
            }
        } catch is CancellationError {
            return
        } catch {
            logger.warning("could not count tasks of unknown jobs: \(error)")
        }
    }
}
