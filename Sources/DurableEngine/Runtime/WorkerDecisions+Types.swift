// The values the worker's decisions take and answer with.
extension WorkerDecisions {
    /// Why a running task is being stopped.
    enum StopReason: Sendable, Equatable {
        case cancelRequested(String?)
        case shutdown
        case leaseLost
        /// The attempt's timeout (retryable) or the task's deadline (not) passed.
        case timedOut(StoredError, retryable: Bool)

        /// Whether a task not started yet ends (cancelled) or is forgotten (its
        /// lease lost) without running, rather than starting to stop at once.
        var endsBeforeStart: Bool {
            switch self {
            case .cancelRequested, .leaseLost: true
            case .shutdown, .timedOut: false
            }
        }
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

    /// What ``start(_:handle:)`` did.
    struct Started {
        /// Why the task must stop at once, if a stop came while its claim was
        /// committing (or the worker hands tasks back already).
        var stopReason: StopReason?
        /// An earlier run of the same task still running here, which this claim
        /// supersedes: cancel it (its ending will be refused as stale).
        var superseded: Handle?
    }

    /// One run: a task and its attempt.
    struct RunKey: Hashable {
        var id: TaskID
        var attempt: Int
    }

    /// What ``stop(_:attempt:reason:)`` did.
    enum StopResult {
        /// The task is not running here (yet): the reason is kept for its start.
        case notRunning
        /// It already stops for a reason that stands.
        case alreadyStopping
        /// Its reason is set: cancel this handle.
        case stop(Handle)
        /// It was waiting for a slot and is taken out of the line without
        /// running: end it cancelled (a cancel request), or forget it (its lease
        /// was lost).
        case removedBeforeStart(ClaimedTask)
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
