/// Every state transition and query the runtime needs, one call each.
///
/// The runtime and the API depend on this protocol only; ``SQLiteStore`` is the
/// SQLite conformance, and a PostgreSQL store for fleets of machines can be added
/// without touching `API/` or `Runtime/`. Writes that finish tasks return the
/// ``TaskOutcome`` of each task they finished, so the caller can wake waiters in
/// this process at once (``TransitionEffects``).
package protocol TaskStore: Sendable {
    /// Where the store lives, for messages.
    var location: String { get }

    /// The highest completion number stored when the store was opened: the
    /// engine's waiters start from it.
    var completionSequenceAtOpen: Int64 { get }

    /// The schema migrations recorded in the database, oldest first.
    func appliedMigrations() async throws -> [AppliedMigration]

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

    /// Looks whether the database changed since `previous` (`nil`: the first
    /// look, which always reports a change), and whether someone other than this
    /// store made the change. Cheap while nothing changed: the change watcher's
    /// thread calls it every millisecond or so.
    func checkChanges(since previous: ChangeMark?) throws -> ChangeCheck

    // The reads that follow a change, run at once on the connection that watches
    // for changes: the change watcher's thread calls them (and the worker's
    // occasional safety-net check), without a hop to a reader queue and back.

    /// The tasks finished after completion number `sequence`, in completion order,
    /// at most `limit`, and the completion number through which the page is complete.
    func completions(after sequence: Int64, limit: Int) throws -> CompletionPage

    /// Whether a pending task of one of `jobs` (any job when `nil`) is due at `now`.
    func hasClaimableTask(jobs: [String]?, now: Int64) throws -> Bool

    /// Those of `ids` that no longer exist (pruned), read on the change watcher's
    /// connection.
    func missingTasks(among ids: [TaskID]) throws -> [TaskID]

    /// Running tasks of `owner` with a stored cancel request, and their messages.
    func cancelRequests(owner: String) throws -> [TaskID: String?]

    /// The earliest deadline of a pending task (passed or not), if any.
    func earliestPendingDeadline() throws -> Int64?

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

    /// Extends the leases of the tasks `owner` still runs; returns their ids.
    func heartbeat(owner: String, now: Int64, leaseUntil: Int64) async throws -> Set<TaskID>

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

    // MARK: Appends to files

    /// Where a task's `sequence`-th append went, if it was recorded.
    func recordedAppend(of id: TaskID, sequence: Int) async throws -> FileAppend?

    /// The end of the last recorded line of the file (or its length before Durable
    /// first appended to it); `nil` when Durable never appended to it.
    func committedLength(of path: String) async throws -> Int64?

    /// Records that Durable appends to the file from now on, keeping its first
    /// `baseLength` bytes; does nothing if it is already recorded.
    func registerAppendedFile(_ path: String, baseLength: Int64, now: Int64) async throws

    /// Records an append and its bytes if the file's committed length is still
    /// `append.offset`, and clears the file's pending line; `false` (nothing
    /// recorded) if another append came first.
    func recordAppend(_ append: FileAppend, line: [UInt8], of id: TaskID, sequence: Int, now: Int64) async throws
        -> Bool

    /// The line being appended to the file, if one is.
    func pendingAppend(to path: String) async throws -> PendingAppend?

    /// Stores the line about to be written to a file (replacing any other). Not
    /// synced on its own: lost in a power cut, the leftovers of that append are
    /// refused instead of cut.
    func notePendingAppend(_ pending: PendingAppend, now: Int64) async throws

    /// The file's length before Durable first appended to it and its recorded
    /// lines; `nil` when Durable never appended to it.
    func appendedLines(of path: String) async throws -> AppendedLines?

    // MARK: Cancelling and callbacks

    /// Cancels a pending task at once, or stores the request for a running one.
    func requestCancel(of id: TaskID, message: String?, now: Int64) async throws -> (CancelResult, TransitionEffects)

    /// Stores a durable done callback; for a finished task, creates its task at once.
    func addDoneCallback(to id: TaskID, job: String, input: String, now: Int64) async throws

    /// Removes the callbacks of `job` not yet run; returns how many.
    func removeDoneCallbacks(from id: TaskID, job: String) async throws -> Int

    // MARK: Inspection and administration

    /// Tasks matching the query, newest first.
    func tasks(matching query: TaskQuery) async throws -> [TaskRecord]

    /// The runs of a task, oldest first.
    func attempts(of id: TaskID) async throws -> [AttemptRecord]

    /// The durable done callbacks of a task, in the order added.
    func callbacks(of id: TaskID) async throws -> [CallbackRecord]

    /// Counts by job and status, and tasks finished since `minuteAgo` and `hourAgo`.
    func statistics(minuteAgo: Int64, hourAgo: Int64) async throws -> QueueStatistics

    /// The running tasks, by id, with their owners' worker rows.
    func runningTasks() async throws -> [RunningTaskRow]

    /// Cancels up to `limit` pending tasks (of `job`, if given) in one transaction.
    func cancelPending(job: String?, limit: Int, message: String?, now: Int64) async throws -> TransitionEffects

    /// Makes finished tasks pending again (`failed` and `cancelled` ones only):
    /// errors, non-retryable step failures and cancel requests are cleared; stored
    /// successful steps stay, so the re-run resumes. Returns the ids reset.
    func retry(_ ids: [TaskID], now: Int64) async throws -> [TaskID]

    /// Sets the per-attempt timeout and the retry policy (JSON; `nil`: one attempt)
    /// of those of `ids` that have not succeeded; returns how many changed.
    func updateAttemptOptions(of ids: [TaskID], timeoutMilliseconds: Int64?, retry: String?) async throws -> Int

    /// The ids of up to `limit` failed tasks, oldest first.
    func failedTaskIDs(limit: Int) async throws -> [TaskID]

    /// Deletes up to `limit` finished tasks (of `statuses`) that finished before
    /// `before`, with their attempts, steps and callbacks, in one short transaction.
    func prune(finishedBefore before: Int64, statuses: Set<TaskStatus>, limit: Int) async throws -> Int

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

    /// Creates a value with every field given.
    package init(owner: String, limit: Int, jobs: [String]? = nil, leaseUntil: Int64) {
        self.owner = owner
        self.limit = limit
        self.jobs = jobs
        self.leaseUntil = leaseUntil
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

    /// Creates a value with every field given.
    package init(effects: TransitionEffects = TransitionEffects(), stale: [TaskID] = [], claimed: [ClaimedTask] = [], requeued: Bool = false) {
        self.effects = effects
        self.stale = stale
        self.claimed = claimed
        self.requeued = requeued
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

    /// Creates a value with every field given.
    package init(requeued: [TaskID] = [], effects: TransitionEffects = TransitionEffects()) {
        self.requeued = requeued
        self.effects = effects
    }
}
