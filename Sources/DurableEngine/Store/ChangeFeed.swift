/// How a store tells an engine about commits that others made (another process,
/// the `durable` tool, a person with `sqlite3` or `psql`). Commits made through
/// the engine's own store are not reported: their effects were applied when
/// they committed.
///
/// The store watches only while the engine has subscribers (a running worker,
/// a caller waiting for a result). After each foreign change it asks the
/// engine's ``ChangeReader`` what to read, reads it on its own connection, and
/// hands over what it found: completions in stored order, tasks that no longer
/// exist among the awaited ones, and for a worker here its cancel requests,
/// whether claimable work exists and the earliest pending deadline. The SQLite
/// store polls `PRAGMA data_version` on a thread of its own; a PostgreSQL store
/// listens for notifications.
package protocol ChangeFeed: Sendable {
    /// One more subscriber: the store watches from the first until the last leaves.
    func subscribe()
    /// One subscriber fewer.
    func unsubscribe()
    /// Reads at the next look as if someone else had committed: the engine's
    /// safety net for a missed signal, and its way to re-arm timers after its own
    /// commits changed what is due.
    func readSoon()
    /// Stops watching for good (the store is closing).
    func stop()
}

/// The engine's side of a ``ChangeFeed``: what it wants read after a foreign
/// change, and where the results go. The reads and their results are called on
/// the feed's own thread or task, one call at a time; ``changedByOthers()`` and
/// ``claimableWorkCommitted()`` may come from the feed's listener meanwhile.
package protocol ChangeReader: AnyObject, Sendable {
    /// The completion number after which completions are wanted, or `nil` when
    /// nobody here waits for one.
    var completionsWanted: Int64? { get }
    /// A page of completions after ``completionsWanted``, in completion order.
    func received(_ page: CompletionPage)
    /// The tasks awaited here, to look for deleted ones when completion numbers
    /// have gaps.
    var awaitedTasks: [TaskID] { get }
    /// Awaited tasks that no longer exist (pruned).
    func missing(_ ids: [TaskID])
    /// What the worker running here wants read, or `nil` when none runs.
    var workerInterest: WorkerInterest? { get }
    /// What was read for the worker.
    func received(_ changes: WorkerChanges)
    /// Whether something here waits for a change at any moment (a result, or an
    /// idle worker for work): the feed then looks more often for a while.
    var waitsBriskly: Bool { get }
    /// Another connection committed a change (the feed noticed it, before it
    /// reads what changed).
    func changedByOthers()
    /// Another connection committed a task that can be claimed now (a feed whose
    /// notifications say so): a worker here with a free slot claims at once,
    /// without waiting for the feed's read. Returns whether it did; the feed's
    /// read then leaves claimable work out of what it reads for the worker.
    func claimableWorkCommitted() -> Bool
}

extension ChangeReader {
    package func claimableWorkCommitted() -> Bool { false }
}

/// What a worker wants read after a foreign change.
package struct WorkerInterest: Sendable {
    /// The worker's id: cancel requests for its running tasks are read.
    package var owner: String
    /// Whether it runs tasks that could have cancel requests.
    package var readsCancelRequests: Bool
    /// Whether it has free slots and looks for claimable work.
    package var looksForWork: Bool
    /// The jobs it claims (`nil`: any job).
    package var jobs: [String]?
    /// The queues it serves (`nil`: every queue).
    package var queues: [String]?
    /// The engine clock's time, for what is due.
    package var now: Int64
    /// Whether the earliest deadline of a pending task is read (a feed that
    /// knows no task with a deadline was stored since its last read need not).
    package var readsDeadlines = true

    package init(
        owner: String, readsCancelRequests: Bool, looksForWork: Bool, jobs: [String]?, queues: [String]? = nil,
        now: Int64
    ) {
        self.owner = owner
        self.readsCancelRequests = readsCancelRequests
        self.looksForWork = looksForWork
        self.jobs = jobs
        self.queues = queues
        self.now = now
    }
}

/// What a feed read for a worker.
package struct WorkerChanges: Sendable {
    /// Running tasks of the worker with a stored cancel request, and their messages.
    package var cancelRequests: [TaskID: String?]
    /// Whether a task the worker may claim is due (``ClaimRule``); `nil` when it
    /// did not look for work.
    package var hasClaimableTask: Bool?
    /// The earliest deadline of a pending task, passed or not (when read).
    package var earliestPendingDeadline: Int64?
    /// Whether ``earliestPendingDeadline`` was read (``WorkerInterest/readsDeadlines``).
    package var readDeadlines: Bool
    /// The time it looked at, from ``WorkerInterest/now``.
    package var now: Int64

    package init(
        cancelRequests: [TaskID: String?], hasClaimableTask: Bool?, earliestPendingDeadline: Int64?,
        readDeadlines: Bool = true, now: Int64
    ) {
        self.cancelRequests = cancelRequests
        self.hasClaimableTask = hasClaimableTask
        self.earliestPendingDeadline = earliestPendingDeadline
        self.readDeadlines = readDeadlines
        self.now = now
    }
}
