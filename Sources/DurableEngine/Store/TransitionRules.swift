/// The rules of task state transitions, written once for every store. A store
/// runs its own statements; what a change means, and what follows from it in
/// the same transaction, is decided here. The store conformance suite checks
/// each store against these rules.
package enum TransitionRules {
    // MARK: Names

    /// The name of a task created without one: `Task-<id>`.
    package static func defaultTaskName(id: Int64) -> String { defaultTaskNamePrefix + "\(id)" }

    /// What a default task name puts before the id (for stores that name tasks in SQL).
    package static let defaultTaskNamePrefix = "Task-"

    /// The name of a task group created without one: `TaskGroup-<id>`.
    package static func defaultGroupName(id: Int64) -> String { "TaskGroup-\(id)" }

    // MARK: Completions

    /// How a completion is stored: its task ends (succeeded, failed, cancelled),
    /// or goes back to pending with an attempt row saying why.
    package static func storing(_ completion: TaskCompletion) -> StoredEnding {
        let (status, result, error): (TaskStatus, String?, StoredError?)
        switch completion.ending {
        case .succeeded(let json): (status, result, error) = (.succeeded, json, nil)
        case .failed(let stored): (status, result, error) = (.failed, nil, stored)
        case .cancelled(let stored): (status, result, error) = (.cancelled, nil, stored)
        case .released(let stored): return .requeue(runAt: nil, outcome: .interrupted, error: stored)
        case .retry(let stored, let runAt): return .requeue(runAt: runAt, outcome: .failed, error: stored)
        case .suspended(let runAt): return .requeue(runAt: runAt, outcome: .suspended, error: nil)
        }
        return .end(
            EndedRun(
                id: completion.id, owner: completion.owner, attempt: completion.attempt,
                startedAt: completion.startedAt, status: status, result: result, error: error))
    }

    /// A cancel request beats a requeue: a run that would hand its task back as
    /// pending (interrupted, retried, suspended, or recovered from a dead owner
    /// or an expired lease)
    /// ends the task cancelled instead when a cancel was requested meanwhile.
    /// `nil` when no cancel was requested: the task goes back to pending.
    package static func endingInsteadOfRequeue(cancelRequested: Bool, message: String?) -> StoredError? {
        cancelRequested ? .cancellation(message) : nil
    }

    /// What a task reaching a terminal state causes in the same transaction:
    /// the tasks of its durable done callbacks are created, and a failure in a
    /// group shuts the group down, cancelling its unfinished tasks (a group
    /// already shutting down stays as it is: only the first failure counts).
    package static func consequences(
        ofFinishing id: TaskID, status: TaskStatus, groupID: GroupID?, hasCallbacks: Bool
    ) -> [FinishConsequence] {
        var consequences: [FinishConsequence] = []
        if hasCallbacks { consequences.append(.createCallbackTasks) }
        if status == .failed, let groupID {
            consequences.append(
                .shutDownGroup(groupID, message: "task group \(groupID) is shutting down: task \(id) failed"))
        }
        return consequences
    }

    /// The task that runs a durable done callback of task `id`, created when it
    /// finishes: due at once, with the finished task's context.
    package static func callbackTask(job: String, input: String, context: String?, of id: TaskID, now: Int64)
        -> NewTask
    {
        NewTask(
            job: job, input: input, name: nil, context: context, key: nil, priority: 0, runAt: now, deadline: nil,
            parentID: nil, groupID: nil, callbackOf: id)
    }

    /// Why a running task was taken back from its owner by recovery.
    package static func abandonment(owner: String, leaseExpired: Bool) -> StoredError {
        let reason = leaseExpired ? "the lease of worker \(owner) expired" : "worker \(owner) is no longer running"
        return StoredError(kind: .interrupted, type: "Durable.Recovery", message: reason)
    }

    // MARK: Cancelling

    /// What a cancel request does to a task in `status`: nothing to a finished
    /// one; a pending one is cancelled at once (it will never start); for a
    /// running one the request is stored for its owner to deliver. Either way
    /// its unfinished children that are not detached are cancelled too
    /// (``childCancelMessage(parent:message:)``).
    package static func cancelDecision(for status: TaskStatus, message: String?) -> CancelDecision {
        switch status {
        case .succeeded, .failed, .cancelled: .alreadyFinished
        case .pending: .cancelNow(.cancellation(message))
        case .running: .requestFromOwner
        }
    }

    /// The message a child's cancellation carries when its parent was cancelled.
    package static func childCancelMessage(parent: TaskID, message: String?) -> String {
        "parent task \(parent) was cancelled" + (message.map { ": \($0)" } ?? "")
    }
}

/// What finishing a task causes in the same transaction.
package enum FinishConsequence: Sendable, Equatable {
    /// Create one task per durable done callback not yet run, in the order added.
    case createCallbackTasks
    /// Move the open group to shutting down and cancel its unfinished tasks.
    case shutDownGroup(GroupID, message: String)
}

/// What a cancel request does (``TransitionRules/cancelDecision(for:message:)``).
package enum CancelDecision: Sendable, Equatable {
    case alreadyFinished
    /// Finish the pending task now, cancelled with this error.
    case cancelNow(StoredError)
    /// Store the request; the running task's owner delivers it.
    case requestFromOwner
}

/// A run that ended its task (succeeded, failed or cancelled), to be stored
/// fenced by owner and attempt.
package struct EndedRun: Sendable {
    package var id: TaskID
    package var owner: String
    package var attempt: Int
    package var startedAt: Int64
    package var status: TaskStatus
    package var result: String?
    package var error: StoredError?

    package init(
        id: TaskID, owner: String, attempt: Int, startedAt: Int64, status: TaskStatus, result: String?,
        error: StoredError?
    ) {
        self.id = id
        self.owner = owner
        self.attempt = attempt
        self.startedAt = startedAt
        self.status = status
        self.result = result
        self.error = error
    }
}

/// How a completion is stored (``TransitionRules/storing(_:)``).
package enum StoredEnding: Sendable {
    case end(EndedRun)
    /// Pending again at `runAt` (as soon as possible when `nil`), with the
    /// attempt row's outcome and error.
    case requeue(runAt: Int64?, outcome: AttemptOutcome, error: StoredError?)
}
