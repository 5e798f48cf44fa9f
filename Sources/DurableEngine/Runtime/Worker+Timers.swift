// The worker's timers: when delayed work becomes due, when a waiting task's
// deadline passes, and when a running task's timeout or deadline passes. Each
// sleeps until an absolute time of the engine's clock and checks it was reached,
// so neither a clock advanced meanwhile nor an early wake-up loses one. None is
// armed once the worker has stopped (`State.stopped`).
extension Worker {
    /// Wakes the cycle when the next pending task (delayed, retried, sleeping)
    /// becomes due, so that it starts on time without polling.
    func armDueTimer(after now: Int64) {
        let timer = Task { [clock, store] in
            do {
                guard let due = try await store.nextDueTime(after: now) else { return }
                try await clock.sleep(until: due)
                self.noteNewWork()
            } catch {}
        }
        let replaced = state.withLock { state -> Task<Void, Never>? in
            guard !state.stopped else { return timer }
            defer { state.dueTimer = timer }
            return state.dueTimer
        }
        replaced?.cancel()
    }

    /// Wakes the cycle to fail expired tasks when the earliest deadline of a
    /// pending task passes (`nil`: none has one), even while every slot is busy
    /// and nothing else would commit. Armed from the change watcher's thread.
    func armDeadlineTimer(at deadline: Int64?) {
        state.withLock { state in
            guard !state.stopped, !state.decisions.draining, state.deadlineTimer?.at != deadline else { return }
            state.deadlineTimer?.timer.cancel()
            guard let deadline else {
                state.deadlineTimer = nil
                return
            }
            let timer = Task { [clock] in
                do {
                    try await clock.sleep(until: deadline)
                } catch {
                    return
                }
                self.state.withLock { state in
                    state.decisions.deadlinePassed()
                    if state.deadlineTimer?.at == deadline { state.deadlineTimer = nil }
                }
                self.wake.signal()
            }
            state.deadlineTimer = (deadline, timer)
        }
    }

    /// A timer that stops the task when its attempt timeout or its deadline
    /// passes, whichever comes first; `nil` when it has neither.
    func limitTimer(for task: ClaimedTask) -> Task<Void, Never>? {
        var limits: [(at: Int64, error: StoredError, retryable: Bool)] = []
        if let timeout = task.timeoutMilliseconds {
            limits.append(
                (
                    task.startedAt.adding(milliseconds: timeout),
                    .timeout("attempt \(task.attempt) timed out after \(timeout) ms"), true
                ))
        }
        if let deadline = task.deadline {
            limits.append((deadline, .deadlinePassed, false))
        }
        guard let first = limits.min(by: { $0.at < $1.at }) else { return nil }
        let id = task.id
        return Task { [clock] in
            do {
                try await clock.sleep(until: first.at)
                self.stop(id, reason: .timedOut(first.error, retryable: first.retryable))
            } catch {}
        }
    }
}
