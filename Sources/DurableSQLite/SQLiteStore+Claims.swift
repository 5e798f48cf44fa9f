import DurableEngine
import GRDB

// Claims: which queues a claim serves and how many tasks each may start
// (``QueueLimits``), the candidates of each queue and job from the
// `tasks_claim` index, fairness between queues (``ClaimRule/interleave(_:limit:)``),
// and the starts rate limits count. Looks for claimable work and the next due
// time follow the same plan, so an idle worker wakes only for work it may start.
extension SQLiteStore {
    /// A queue a claim looks at, and how many tasks it may start there.
    struct QueueTurn {
        var id: Int64
        var name: String
        var settings: QueueSettings
        var usage: QueueUsage
        var capacity: Int
    }

    /// A queue's row: its id (`tasks.queue_id`), name and settings.
    typealias QueueRow = (id: Int64, name: String, settings: QueueSettings)

    /// The queues `queues` names (`nil`: every queue) with their settings, by name.
    static func queueSettings(_ queues: [String]?, db: Database) throws -> [QueueRow] {
        let columns = "id, name, concurrency, worker_concurrency, rate_limit, rate_period_ms, paused"
        let rows: [Row]
        if let queues, queues.count == 1 {
            // One queue (a batch's, a command's): no JSON to encode.
            rows = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT \(columns) FROM durable_queues WHERE name = ?"), arguments: [queues[0]])
        } else {
            rows = try Row.fetchAll(
                db.cachedStatement(
                    sql: """
                        SELECT \(columns) FROM durable_queues
                        WHERE ?1 IS NULL OR name IN (SELECT value FROM json_each(?1)) ORDER BY name
                        """),
                arguments: [try queues.map(StoredJSON.encode)])
        }
        return rows.map { row in
            let rate = (row[4] as Int?).map { RateLimit($0, per: .milliseconds(row[5] as Int64? ?? 0)) }
            return (
                row[0], row[1],
                QueueSettings(
                    concurrency: row[2], workerConcurrency: row[3], rateLimit: rate, isPaused: row[6] as Bool)
            )
        }
    }

    /// Queue names by id, for rows that hold `queue_id`.
    static func queueNames(_ queues: [(id: Int64, name: String)]) -> [Int64: String] {
        Dictionary(queues.map { ($0.id, $0.name) }, uniquingKeysWith: { first, _ in first })
    }

    /// What the limits of a queue need to know of its use now.
    static func usage(of queue: Int64, _ settings: QueueSettings, owner: String, now: Int64, db: Database) throws
        -> QueueUsage
    {
        var usage = QueueUsage()
        guard !settings.isPaused else { return usage }
        if settings.concurrency != nil {
            usage.running = try Int.fetchOne(
                db.cachedStatement(sql: "SELECT count(*) FROM durable_tasks WHERE status = 'running' AND queue_id = ?"),
                arguments: [queue]) ?? 0
        }
        if settings.workerConcurrency != nil {
            usage.runningHere = try Int.fetchOne(
                db.cachedStatement(
                    sql: "SELECT count(*) FROM durable_tasks WHERE owner = ? AND status = 'running' AND queue_id = ?"),
                arguments: [owner, queue]) ?? 0
        }
        if let rate = settings.rateLimit {
            let row = try Row.fetchOne(
                db.cachedStatement(
                    sql: "SELECT count(*), min(started_at) FROM durable_queue_starts WHERE queue_id = ? AND started_at > ?"),
                arguments: [queue, QueueLimits.windowStart(rate, now: now)])
            usage.startsInWindow = row?[0] ?? 0
            usage.earliestStartInWindow = row?[1]
        }
        return usage
    }

    /// The queues a claim of up to `limit` tasks serves, with their capacities.
    static func queueTurns(queues: [String]?, owner: String, limit: Int, now: Int64, db: Database) throws
        -> [QueueTurn]
    {
        try queueSettings(queues, db: db).map { id, name, settings in
            let usage = settings.hasLimits ? try usage(of: id, settings, owner: owner, now: now, db: db) : QueueUsage()
            return QueueTurn(
                id: id, name: name, settings: settings, usage: usage,
                capacity: QueueLimits.capacity(settings, usage: usage, wanted: limit))
        }
    }

    /// The jobs that have claimable-looking tasks in `queue`, found by walking
    /// the `tasks_claim` index from one job to the next.
    static func pendingJobs(in queue: Int64, db: Database) throws -> [String] {
        try String.fetchAll(
            db.cachedStatement(
                sql: """
                    WITH RECURSIVE pending_jobs(job) AS (
                        SELECT (SELECT min(job) FROM durable_tasks WHERE status = 'pending' AND key_waiting = 0 AND queue_id = ?1)
                        UNION ALL
                        SELECT (SELECT min(job) FROM durable_tasks
                                WHERE status = 'pending' AND key_waiting = 0 AND queue_id = ?1 AND job > pending_jobs.job)
                        FROM pending_jobs WHERE pending_jobs.job IS NOT NULL)
                    SELECT job FROM pending_jobs WHERE job IS NOT NULL
                    """),
            arguments: [queue])
    }

    /// Claims the due tasks that come first: in each queue the claim serves, up
    /// to the queue's capacity, in claim order (priority, due time, creation)
    /// among the requested jobs, each job's candidates from its own range of the
    /// `tasks_claim` index; between queues, in turns. Returns the claimed tasks
    /// and whether a queue's concurrency limit held claimable tasks back.
    static func claim(_ request: ClaimRequest, db: Database, now: Int64) throws -> (claimed: [ClaimedTask], heldBack: Bool) {
        let turns = try queueTurns(queues: request.queues, owner: request.owner, limit: request.limit, now: now, db: db)
        let candidatesStatement = try db.cachedStatement(
            sql: """
                SELECT priority, run_at, id FROM durable_tasks
                WHERE queue_id = ?1 AND job = ?2 AND \(SQLiteRows.claimable(now: "?3"))
                ORDER BY priority DESC, run_at, id LIMIT ?4
                """)
        var perQueue: [[(priority: Int, runAt: Int64, id: TaskID)]] = []
        var heldBack = false
        for turn in turns {
            let limitedHere = QueueLimits.heldBackByConcurrency(turn.settings, usage: turn.usage, wanted: request.limit)
            guard turn.capacity > 0 else {
                heldBack = heldBack || limitedHere
                continue
            }
            var candidates: [(priority: Int, runAt: Int64, id: TaskID)] = []
            let jobs = try request.jobs ?? pendingJobs(in: turn.id, db: db)
            for job in jobs {
                let rows = try Row.fetchCursor(candidatesStatement, arguments: [turn.id, job, now, turn.capacity])
                while let row = try rows.next() {
                    candidates.append((row[0], row[1], TaskID(row[2] as Int64)))
                }
            }
            if jobs.count > 1 { candidates.sort(by: ClaimRule.claimsBefore) }
            if limitedHere, candidates.count >= turn.capacity { heldBack = true }
            if !candidates.isEmpty { perQueue.append(Array(candidates.prefix(turn.capacity))) }
        }
        let ids = ClaimRule.interleave(perQueue, limit: request.limit)
        guard !ids.isEmpty else { return ([], heldBack) }
        let claimed = try claim(
            ids: "[" + ids.map { String($0.rawValue) }.joined(separator: ",") + "]", for: request,
            queues: queueNames(turns.map { ($0.id, $0.name) }), db: db, now: now)
        try recordStarts(of: claimed, in: turns, now: now, db: db)
        return (claimed, heldBack)
    }

    /// Claims the tasks among `ids` (a JSON array) that ``ClaimRule`` admits, for
    /// `request.owner`; `queues` names the queues they are in, by id.
    static func claim(ids: String, for request: ClaimRequest, queues: [Int64: String], db: Database, now: Int64) throws
        -> [ClaimedTask]
    {
        let statement = try BoundStatement(
            db,
            sql: """
                UPDATE durable_tasks SET status = 'running', owner = ?1, attempt = attempt + 1, started_at = ?2,
                                 lease_expires_at = ?3
                WHERE id IN (SELECT value FROM json_each(?4)) AND \(SQLiteRows.claimable(now: "?2"))
                RETURNING \(SQLiteRows.claimedColumns)
                """)
        try statement.bind(request.owner, at: 1)
        try statement.bind(now, at: 2)
        try statement.bind(request.leaseUntil, at: 3)
        try statement.bind(ids, at: 4)
        var claimed: [ClaimedTask] = []
        while try statement.step() {
            claimed.append(SQLiteRows.claimed(statement, queues: queues))
        }
        claimed.sort { $0.id < $1.id }
        return claimed
    }

    /// Counts the starts of claimed tasks in rate-limited queues, and forgets
    /// the starts that left their window.
    private static func recordStarts(of claimed: [ClaimedTask], in turns: [QueueTurn], now: Int64, db: Database) throws {
        for turn in turns {
            guard let rate = turn.settings.rateLimit, claimed.contains(where: { $0.queue == turn.name }) else { continue }
            try db.execute(
                sql: "DELETE FROM durable_queue_starts WHERE queue_id = ? AND started_at <= ?",
                arguments: [turn.id, QueueLimits.windowStart(rate, now: now)])
            for task in claimed where task.queue == turn.name {
                try db.execute(
                    sql: "INSERT INTO durable_queue_starts (queue_id, started_at, task_id) VALUES (?, ?, ?)",
                    arguments: [turn.id, now, task.id.rawValue])
            }
        }
    }

    /// Whether `owner` could claim a task of one of `jobs` (any job when `nil`)
    /// in `queues` (every queue when `nil`) at `now`: a claimable task
    /// (``ClaimRule``) in a queue whose limits allow a start.
    static func hasClaimableTask(
        jobs: [String]?, queues: [String]?, owner: String, now: Int64, db: Database
    ) throws -> Bool {
        let statement = try db.cachedStatement(
            sql: """
                SELECT EXISTS (SELECT 1 FROM durable_tasks WHERE queue_id = ?1 AND job = ?2 AND \(SQLiteRows.claimable(now: "?3")))
                """)
        for turn in try queueTurns(queues: queues, owner: owner, limit: 1, now: now, db: db) where turn.capacity > 0 {
            for job in try jobs ?? pendingJobs(in: turn.id, db: db) {
                if try Bool.fetchOne(statement, arguments: [turn.id, job, now]) == true { return true }
            }
        }
        return false
    }

    package func nextDueTime(after now: Int64) async throws -> Int64? {
        try await read("look for the next due task") { db in
            let due = try Int64.fetchOne(
                db, sql: "SELECT min(run_at) FROM durable_tasks WHERE status = 'pending' AND run_at > created_at AND run_at > ?",
                arguments: [now])
            // A queue its rate holds back opens when its earliest start leaves the window.
            var reopens: [Int64] = []
            for (id, _, settings) in try Self.queueSettings(nil, db: db) where settings.rateLimit != nil {
                let usage = try Self.usage(of: id, settings, owner: "", now: now, db: db)
                if let time = QueueLimits.reopens(settings, usage: usage), time > now { reopens.append(time) }
            }
            return ([due].compactMap { $0 } + reopens).min()
        }
    }
}
