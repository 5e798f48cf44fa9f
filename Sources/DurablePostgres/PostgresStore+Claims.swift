import DurableEngine
import PostgresNIO

// Claims: which queues a claim serves and how many tasks each may start
// (``QueueLimits``), fairness between queues, and the starts rate limits count.
// A claim in a queue with limits locks the queue's row first, so that claims of
// that queue take turns and each counts what the previous one started.
extension PostgresStore {
    /// The queues `queues` names (`nil`: every queue) with their settings, by
    /// name; with `locking`, the rows of those with limits are locked until the
    /// transaction ends.
    static func queueSettings(_ queues: [String]?, locking: Bool = false, on connection: PostgresConnection)
        async throws -> [(name: String, settings: QueueSettings)]
    {
        var statement = PostgresStatement(
            "SELECT name, concurrency, worker_concurrency, rate_limit, rate_period_ms, paused FROM queues WHERE ")
        let list = try statement.bind(array: queues ?? [])
        let all = statement.bind(queues == nil)
        statement.append("(\(all)::boolean OR name = ANY(\(list)::text[])) ORDER BY name")
        var settings: [(name: String, settings: QueueSettings)] = []
        for row in try await connection.rows(statement.query) {
            let (name, concurrency, perWorker, rate, period, paused) = try row.decode(
                (String, Int64?, Int64?, Int64?, Int64?, Bool).self)
            settings.append(
                (
                    name,
                    QueueSettings(
                        concurrency: concurrency.map(Int.init), workerConcurrency: perWorker.map(Int.init),
                        rateLimit: rate.map { RateLimit(Int($0), per: .milliseconds(period ?? 0)) }, isPaused: paused)
                ))
        }
        let limited = settings.filter { $0.settings.hasLimits && !$0.settings.isPaused }.map(\.name)
        guard locking, !limited.isEmpty else { return settings }
        // Claims of a limited queue take turns on its row; its settings are read
        // again once locked, so that a change that committed meanwhile counts.
        for name in limited {
            try await connection.run("SELECT 1 FROM queues WHERE name = \(name) FOR UPDATE")
        }
        let fresh = try await queueSettings(limited, on: connection)
        return settings.map { queue in fresh.first { $0.name == queue.name } ?? queue }
    }

    /// What the limits of a queue need to know of its use now.
    static func usage(
        of queue: String, _ settings: QueueSettings, owner: String, now: Int64, on connection: PostgresConnection
    ) async throws -> QueueUsage {
        var usage = QueueUsage()
        guard !settings.isPaused, settings.hasLimits else { return usage }
        let windowStart = settings.rateLimit.map { QueueLimits.windowStart($0, now: now) } ?? now
        let row = try await connection.rows(
            """
            SELECT (SELECT count(*) FROM tasks WHERE status = 'running' AND queue = \(queue)),
                   (SELECT count(*) FROM tasks WHERE owner = \(owner) AND status = 'running' AND queue = \(queue)),
                   (SELECT count(*) FROM queue_starts WHERE queue = \(queue) AND started_at > \(windowStart)),
                   (SELECT min(started_at) FROM queue_starts WHERE queue = \(queue) AND started_at > \(windowStart))
            """
        ).first
        if let (running, here, starts, earliest) = try row?.decode((Int64, Int64, Int64, Int64?).self) {
            usage = QueueUsage(
                running: Int(running), runningHere: Int(here), startsInWindow: Int(starts),
                earliestStartInWindow: earliest)
        }
        return usage
    }

    /// The jobs with claimable-looking tasks in `queue`.
    static func pendingJobs(in queue: String, on connection: PostgresConnection) async throws -> [String] {
        var statement = PostgresStatement(PostgresRows.pendingJobs)
        statement.bind(queue)
        return try await connection.values(statement.query, as: String.self)
    }

    /// Claims in a transaction: in each queue the claim serves, up to the
    /// queue's capacity (its row locked while it has limits), in claim order
    /// among the requested jobs; between queues, in turns. Returns the claimed
    /// tasks and whether a queue's concurrency limit held claimable tasks back.
    func claim(_ request: ClaimRequest, on connection: PostgresConnection, now: Int64) async throws
        -> (claimed: [ClaimedTask], heldBack: Bool)
    {
        var (queues, jobs, caps): ([String], [String], [Int64]) = ([], [], [])
        var heldBack = false
        var rateLimited: [(name: String, rate: RateLimit)] = []
        let queueSettings = try await Self.queueSettings(request.queues, locking: true, on: connection)
        let limited = queueSettings.contains { $0.settings.hasLimits && !$0.settings.isPaused }
        limitedQueuesSeen.withLock { $0 = limited }
        // If no queue with limits gets a task, claims leave them alone until the
        // first may have room: a queue its rate holds back when its window opens
        // (at most a second ahead), any other after a short rest.
        var restUntil = now + Self.limitedQueuesLongestRest
        for (name, settings) in queueSettings {
            let usage = try await Self.usage(of: name, settings, owner: request.owner, now: now, on: connection)
            let capacity = QueueLimits.capacity(settings, usage: usage, wanted: request.limit)
            let byConcurrency = QueueLimits.heldBackByConcurrency(settings, usage: usage, wanted: request.limit)
            if byConcurrency { heldBack = true }
            if settings.hasLimits, !settings.isPaused {
                let reopens = capacity == 0 && !byConcurrency ? QueueLimits.reopens(settings, usage: usage) : nil
                restUntil = min(restUntil, reopens ?? now + Self.limitedQueuesRest)
            }
            guard capacity > 0 else { continue }
            if let rate = settings.rateLimit { rateLimited.append((name, rate)) }
            var named = request.jobs ?? []
            if request.jobs == nil { named = try await Self.pendingJobs(in: name, on: connection) }
            for job in named {
                (queues, jobs, caps) = (queues + [name], jobs + [job], caps + [Int64(capacity)])
            }
        }
        guard !queues.isEmpty else {
            limitedQueuesRestUntil.withLock { $0 = restUntil }
            return ([], heldBack)
        }
        var statement = PostgresStatement()
        statement.bind(request.owner)
        statement.bind(now)
        statement.bind(Int64(request.limit))
        bindLease(until: request.leaseUntil, now: now, into: &statement)
        try statement.bind(array: queues)
        try statement.bind(array: jobs)
        try statement.bind(array: caps)
        let claimed = try await connection.rows(ClaimPairsStatement.self, statement)
            .map { try PostgresRows.claimed($0) }.sorted { $0.id < $1.id }
        // No queue with limits had room: claims leave them alone for a moment.
        let limitedNames = Set(queueSettings.filter { $0.settings.hasLimits && !$0.settings.isPaused }.map(\.name))
        let tookLimited = claimed.contains { limitedNames.contains($0.queue) }
        limitedQueuesRestUntil.withLock { $0 = tookLimited ? 0 : restUntil }
        for (name, rate) in rateLimited {
            let ids = claimed.filter { $0.queue == name }.map(\.id.rawValue)
            guard !ids.isEmpty else { continue }
            try await connection.run(
                "DELETE FROM queue_starts WHERE queue = \(name) AND started_at <= \(QueueLimits.windowStart(rate, now: now))")
            var insert = PostgresStatement()
            let queue = insert.bind(name)
            let time = insert.bind(now)
            let list = try insert.bind(array: ids)
            insert.append(
                "INSERT INTO queue_starts (queue, started_at, task_id) SELECT \(queue), \(time), unnest(\(list)::bigint[])")
            try await connection.run(insert.query)
        }
        return (claimed, heldBack)
    }

    /// Whether the worker of `interest` could claim a task now: a claimable
    /// task (``ClaimRule``) in a queue whose limits allow a start. One in a
    /// queue with limits (those are looked at first) ends the rest claims give
    /// such queues, so that another process's change reaches them at once.
    func hasClaimableTask(for interest: WorkerInterest, on connection: PostgresConnection) async throws -> Bool {
        let queues = try await Self.queueSettings(interest.queues, on: connection)
        for (name, settings) in queues.filter({ $0.settings.hasLimits }) + queues.filter({ !$0.settings.hasLimits }) {
            let usage = try await Self.usage(
                of: name, settings, owner: interest.owner, now: interest.now, on: connection)
            guard QueueLimits.capacity(settings, usage: usage, wanted: 1) > 0 else { continue }
            var jobs = interest.jobs ?? []
            if interest.jobs == nil { jobs = try await Self.pendingJobs(in: name, on: connection) }
            var statement = PostgresStatement()
            let list = try statement.bind(array: jobs)
            let queue = statement.bind(name)
            let now = statement.bind(interest.now) + "::bigint"
            statement.append(
                """
                SELECT EXISTS (SELECT 1 FROM unnest(\(list)::text[]) AS j(job), LATERAL (
                    SELECT 1 FROM tasks WHERE queue = \(queue) AND job = j.job AND \(PostgresRows.claimable(now: now))
                    LIMIT 1
                ) AS c)
                """)
            guard try await connection.value(statement.query, as: Bool.self) == true else { continue }
            if settings.hasLimits { limitedQueuesRestUntil.withLock { $0 = 0 } }
            return true
        }
        return false
    }

    /// When the first queue its rate holds back opens again, after `now`, and
    /// whether any queue has a rate limit.
    static func rateReopening(after now: Int64, on connection: PostgresConnection) async throws
        -> (reopens: Int64?, rated: Bool)
    {
        var reopens: [Int64] = []
        var rated = false
        for (name, settings) in try await queueSettings(nil, on: connection) where settings.rateLimit != nil {
            rated = true
            let usage = try await usage(of: name, settings, owner: "", now: now, on: connection)
            if let time = QueueLimits.reopens(settings, usage: usage), time > now { reopens.append(time) }
        }
        return (reopens.min(), rated)
    }
}
