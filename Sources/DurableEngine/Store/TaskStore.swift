package import Logging

/// What every store must do for the engine to run tasks on it, one call per
/// state transition: create, claim and complete in one commit, recover,
/// heartbeat, cancel, steps, groups, callbacks, and a feed of others' commits.
/// Optional abilities are protocols of their own: ``InspectableStore``,
/// ``FileAppendingStore``, ``AdministrableStore``.
///
/// The runtime and the API depend on this protocol only; the `DurableSQLite`
/// target holds the SQLite conformance, and a PostgreSQL store for fleets of
/// machines can be added as a target of its own. Writes that finish tasks return the
/// ``TaskOutcome`` of each task they finished, so the caller can wake waiters in
/// this process at once (``TransitionEffects``).
package protocol TaskStore: Sendable {
    /// Where the store lives, for messages.
    var location: String { get }

    /// The highest completion number stored when the store was opened: the
    /// engine's waiters start from it.
    var completionSequenceAtOpen: Int64 { get }

    // MARK: Submitting and naming

    /// Inserts tasks in one transaction. A task whose key already exists returns the
    /// existing task instead (an error if that task has a different job or input).
    func createTasks(_ tasks: [NewTask], now: Int64) async throws -> [CreatedTask]

    /// Inserts tasks as `createTasks` does and, in the same transaction, claims up
    /// to `claim.limit` of the new ones that are due, for a worker that is idle:
    /// they start without a claim commit of their own.
    func createAndClaimTasks(_ tasks: [NewTask], claim: ClaimRequest, now: Int64) async throws
        -> (created: [CreatedTask], claimed: [ClaimedTask])

    /// Stores a new name. Throws ``DurableError/Code/unknownTask``.
    func setName(of id: TaskID, to name: String) async throws

    // MARK: Reading

    /// The task row, or `nil`.
    func task(_ id: TaskID) async throws -> TaskRecord?

    /// The outcomes of those of `ids` that are finished, in stored completion
    /// order, and those of `ids` that no longer exist (pruned).
    func outcomes(of ids: [TaskID]) async throws -> StoredOutcomes

    /// The highest completion number stored so far.
    func latestCompletionSequence() async throws -> Int64

    /// A feed of the commits others make to the store, read for `reader`.
    func makeChangeFeed(reporting reader: any ChangeReader, logger: Logger) -> any ChangeFeed

    /// Closes the connections; the last one to close folds the WAL into the
    /// database. Later calls fail with an error naming the store.
    func close() throws

    /// Pending-task counts (at most 10001 each) of the jobs not in `jobs`.
    func pendingTasksOfOtherJobs(than jobs: [String]) async throws -> [String: Int]

    // MARK: Running

    /// Records a worker process.
    func registerWorker(_ worker: WorkerInfo, now: Int64, leaseUntil: Int64) async throws

    /// Marks a worker stopped; it owns no task any more.
    func stopWorker(_ id: String, now: Int64) async throws

    /// Workers not marked stopped.
    func activeWorkers() async throws -> [WorkerInfo]

    /// Hands back the running tasks of `deadOwners` and those whose lease expired
    /// before `now`: pending again, or cancelled if a cancel was requested meanwhile.
    /// Each run ended this way gets an `abandoned` attempt row.
    func recoverTasks(deadOwners: [String], now: Int64) async throws -> Recovery

    /// One commit of the worker's cycle: applies `completions` (fenced by owner and
    /// attempt), fails the pending tasks whose deadline passed if `failingExpired`,
    /// then claims up to `claim.limit` due tasks.
    func completeAndClaim(
        _ completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool, now: Int64
    ) async throws -> CycleResult

    /// Whether ``createCompleteAndClaim(_:completions:claim:failingExpired:now:)``
    /// stores the new tasks in the cycle's own commit (one commit instead of two),
    /// so that the engine lets creations ride in the worker's commits.
    var commitsCreationsInCycles: Bool { get }

    /// One commit of the worker's cycle that first inserts `tasks` as
    /// ``createTasks(_:now:)`` does (``CycleResult/created``), then applies
    /// `completions` and claims as ``completeAndClaim(_:claim:failingExpired:now:)``
    /// does: the claim may take the new tasks. A store that
    /// ``commitsCreationsInCycles`` does it all or nothing, in one commit (when
    /// inserting a task fails, say for a key taken with another input, nothing
    /// is stored); the default implementation commits the creation, then the cycle.
    func createCompleteAndClaim(
        _ tasks: [NewTask], completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool, now: Int64
    ) async throws -> CycleResult

    /// Extends the leases of the tasks `owner` still runs; returns their ids,
    /// each with the attempt it runs.
    func heartbeat(owner: String, now: Int64, leaseUntil: Int64) async throws -> [TaskID: Int]

    /// Fails the pending tasks whose deadline has passed, with a timeout error.
    /// (Running ones are stopped by their worker, or recovered and then failed.)
    func expireDeadlines(now: Int64) async throws -> TransitionEffects

    /// The earliest `run_at` after `now` among pending tasks of any job.
    func nextDueTime(after now: Int64) async throws -> Int64?

    // MARK: Steps

    /// The checkpoints stored by the runs of a task, by position.
    func steps(of id: TaskID) async throws -> [StoredStep]

    /// Stores a checkpoint, fenced by owner and attempt: `false` (nothing stored)
    /// when the run no longer owns the task.
    func recordStep(_ step: StoredStep, of id: TaskID, owner: String, attempt: Int, now: Int64) async throws -> Bool

    // MARK: Cancelling and callbacks

    /// Cancels a pending task at once, or stores the request for a running one.
    func requestCancel(of id: TaskID, message: String?, now: Int64) async throws -> (CancelResult, TransitionEffects)

    /// Stores a durable done callback; for a finished task, creates its task at once.
    func addDoneCallback(to id: TaskID, job: String, input: String, now: Int64) async throws

    /// Removes the callbacks of `job` not yet run; returns how many.
    func removeDoneCallbacks(from id: TaskID, job: String) async throws -> Int

    // MARK: Groups

    /// Creates a group (named `TaskGroup-<id>` when `name` is `nil`), or returns
    /// the one stored under `key`.
    func createGroup(name: String?, key: String?, now: Int64) async throws -> GroupRecord

    /// The group row, or `nil`.
    func group(_ id: GroupID) async throws -> GroupRecord?

    /// Moves an open group to shutting down and cancels its unfinished tasks, in one
    /// transaction.
    func shutDownGroup(_ id: GroupID, message: String?, now: Int64) async throws -> TransitionEffects

    /// Marks a group finished (it accepts no more tasks) if none of its tasks is
    /// unfinished; otherwise changes nothing and returns the unfinished ones.
    func finishGroup(_ id: GroupID, now: Int64) async throws -> [TaskID]

    /// The ids of the group's tasks, in creation order.
    func groupTasks(_ id: GroupID) async throws -> [TaskID]
}

extension TaskStore {
    /// By default a store commits creations apart from the worker's cycle.
    package var commitsCreationsInCycles: Bool { false }

    /// By default two commits: the tasks' creation, then the cycle.
    package func createCompleteAndClaim(
        _ tasks: [NewTask], completions: [TaskCompletion], claim: ClaimRequest?, failingExpired: Bool, now: Int64
    ) async throws -> CycleResult {
        let created = try await createTasks(tasks, now: now)
        var result = try await completeAndClaim(completions, claim: claim, failingExpired: failingExpired, now: now)
        result.created = created
        return result
    }

    /// One commit of the worker's cycle that fails no expired task on its own.
    package func completeAndClaim(_ completions: [TaskCompletion], claim: ClaimRequest?, now: Int64) async throws
        -> CycleResult
    {
        try await completeAndClaim(completions, claim: claim, failingExpired: false, now: now)
    }
}

/// What a worker asks of a claim.
package struct ClaimRequest: Sendable {
    package var owner: String
    package var limit: Int
    /// Registered job names; `nil` claims tasks of any job.
    package var jobs: [String]?
    package var leaseUntil: Int64
    /// The queues the worker serves; `nil` serves every queue.
    package var queues: [String]?

    /// Creates a value with every field given.
    package init(owner: String, limit: Int, jobs: [String]? = nil, leaseUntil: Int64, queues: [String]? = nil) {
        self.owner = owner
        self.limit = limit
        self.jobs = jobs
        self.leaseUntil = leaseUntil
        self.queues = queues
    }
}

/// What a write did besides its main change: tasks it finished (completions,
/// cancelled pending tasks, group siblings), cancel requests it stored for
/// running tasks, which their owners must deliver, and tasks it created.
package struct TransitionEffects: Sendable {
    package var finished: [TaskOutcome] = []
    package var cancelRequests: [RequestedCancel] = []
    /// How many tasks the write created (done callbacks), for waking the worker.
    package var createdTasks: Int = 0

    /// Creates a value with every field given.
    package init(finished: [TaskOutcome] = [], cancelRequests: [RequestedCancel] = [], createdTasks: Int = 0) {
        self.finished = finished
        self.cancelRequests = cancelRequests
        self.createdTasks = createdTasks
    }

    /// Adds the effects of a later write.
    package mutating func append(_ later: TransitionEffects) {
        finished += later.finished
        cancelRequests += later.cancelRequests
        createdTasks += later.createdTasks
    }
}

/// A cancel request stored for a running task.
package struct RequestedCancel: Sendable, Equatable {
    package var id: TaskID
    package var owner: String?
    package var message: String?

    /// Creates a value with every field given.
    package init(id: TaskID, owner: String? = nil, message: String? = nil) {
        self.id = id
        self.owner = owner
        self.message = message
    }
}

/// What one worker cycle committed.
package struct CycleResult: Sendable {
    package var effects: TransitionEffects = TransitionEffects()
    /// Completions refused because the task had moved on (another owner or attempt).
    package var stale: [TaskID] = []
    package var claimed: [ClaimedTask] = []
    /// Some task went back to pending (a retry, a long sleep): the worker looks
    /// for due work again, which arms its timer for the earliest wake-up.
    package var requeued: Bool = false
    /// A queue's concurrency limit held claimable tasks back: when a task of
    /// this worker ends, it claims again (others' ends reach it through the change feed).
    package var heldBack: Bool = false
    /// The tasks a cycle created (``TaskStore/createCompleteAndClaim(_:completions:claim:failingExpired:now:)``),
    /// in the order asked.
    package var created: [CreatedTask] = []

    /// Creates a value with every field given.
    package init(effects: TransitionEffects = TransitionEffects(), stale: [TaskID] = [], claimed: [ClaimedTask] = [], requeued: Bool = false, heldBack: Bool = false) {
        self.effects = effects
        self.stale = stale
        self.claimed = claimed
        self.requeued = requeued
        self.heldBack = heldBack
    }
}

/// What `outcomes(of:)` read: the finished tasks' outcomes in completion order,
/// and the tasks that no longer exist.
package struct StoredOutcomes: Sendable {
    package var outcomes: [TaskOutcome] = []
    package var missing: [TaskID] = []

    /// Creates a value with every field given.
    package init(outcomes: [TaskOutcome] = [], missing: [TaskID] = []) {
        self.outcomes = outcomes
        self.missing = missing
    }
}

/// A page of completions read in one snapshot.
package struct CompletionPage: Sendable {
    package var outcomes: [TaskOutcome]
    /// Every completion up to this number is in this page or an earlier one; a
    /// number missing below it belongs to a deleted task.
    package var coveredThrough: Int64

    /// Creates a value with every field given.
    package init(outcomes: [TaskOutcome], coveredThrough: Int64) {
        self.outcomes = outcomes
        self.coveredThrough = coveredThrough
    }
}

/// What `recoverTasks` handed back.
package struct Recovery: Sendable {
    package var requeued: [TaskID] = []
    package var effects: TransitionEffects = TransitionEffects()
    /// The job of each abandoned run recovered (requeued or cancelled), for the metrics.
    package var abandonedJobs: [String] = []

    /// Creates a value with every field given.
    package init(requeued: [TaskID] = [], effects: TransitionEffects = TransitionEffects(), abandonedJobs: [String] = []) {
        self.requeued = requeued
        self.effects = effects
        self.abandonedJobs = abandonedJobs
    }
}
