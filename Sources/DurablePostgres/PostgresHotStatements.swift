import DurableEngine
import PostgresNIO

/// The SQL of a statement the store runs on every task (create, claim,
/// finish): fixed text whose parameters are bound in the order its `$n` say.
protocol HotStatement {
    static var sql: String { get }
}

/// A ``HotStatement`` with its parameters, prepared once per connection: the
/// server parses it once and soon plans it once, instead of on every call
/// (parsing and planning took as long as running it, for a few rows).
struct PreparedHotStatement<Kind: HotStatement>: PostgresPreparedStatement {
    static var name: String { "durable_\(Kind.self)" }
    static var sql: String { Kind.sql }
    typealias Row = PostgresRow

    var bindings: PostgresBindings

    func makeBindings() -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) -> PostgresRow { row }
}

extension PostgresConnection {
    /// Runs the statement `kind`, prepared, with `statement`'s parameters, and
    /// returns its rows: the server parses it once per connection.
    ///
    /// The store's sessions plan it generically (`plan_cache_mode =
    /// force_generic_plan`, see ``PostgresDatabase``), for any number of rows:
    /// the plan knows nothing of the arrays' lengths, so every hot statement
    /// looks up the rows it changes by primary key from the arrays (a join
    /// between two sets of unknown size became a nested loop that compared
    /// every element with every row). Running large ones unprepared would only
    /// add a parse per call (Benchmarks/RESULTS.md, issue 13's fourth session).
    func rows<Kind: HotStatement>(_ kind: Kind.Type, _ statement: PostgresStatement) async throws -> [PostgresRow] {
        var rows: [PostgresRow] = []
        for try await row in try await execute(PreparedHotStatement<Kind>(bindings: statement.bindings), logger: Self.quiet) {
            rows.append(row)
        }
        AnswerGuard.progress?.answered()
        return rows
    }
}

/// The lease end of a claim, from the parameters `fixed` (a fixed time, by the
/// engine's clock, or NULL) and `duration` (after the database's clock,
/// `durable_now_ms()`).
private func leaseEnd(fixed: String, duration: String) -> String {
    "coalesce(\(fixed)::bigint, durable_now_ms() + \(duration)::bigint)"
}

/// The claim of the due tasks that come first, from the CTE `pairs` (queue,
/// job, cap: how many tasks of the queue may start): each pair's candidates
/// from its own range of the `tasks_claim` index, skipping rows others have
/// locked; at most `cap` per queue; between queues in turns (the first of each
/// queue, then the second, ..., see ``ClaimRule/interleave(_:limit:)``), up to
/// `limit` in all. Defines the CTEs `pairs`, `candidates` and `claimed` (the
/// claimed rows, ``PostgresRows/claimedColumns``). The other arguments name
/// parameters.
private func claimCTEs(
    owner: String, now: String, limit: String, leaseFixed: String, leaseDuration: String, pairs: String
) -> String {
    """
    pairs AS (\(pairs)), candidates AS (
        SELECT c.id FROM (
            SELECT c.id, c.priority, c.run_at, p.cap,
                   row_number() OVER (PARTITION BY p.queue ORDER BY c.priority DESC, c.run_at, c.id) AS turn
            FROM pairs AS p, LATERAL (
                SELECT id, priority, run_at FROM tasks
                WHERE queue = p.queue AND job = p.job AND \(PostgresRows.claimable(now: "\(now)::bigint"))
                ORDER BY priority DESC, run_at, id LIMIT p.cap
                FOR UPDATE SKIP LOCKED
            ) AS c
        ) AS c
        WHERE c.turn <= c.cap
        ORDER BY c.turn, c.priority DESC, c.run_at, c.id LIMIT \(limit)::bigint
    ), claimed AS (
        UPDATE tasks SET status = 'running', owner = \(owner)::text, attempt = attempt + 1, started_at = \(now)::bigint,
                         lease_expires_at = \(leaseEnd(fixed: leaseFixed, duration: leaseDuration))
        FROM candidates WHERE tasks.id = candidates.id
        RETURNING \(PostgresRows.claimedColumns.split(separator: ",").map { "tasks." + $0.trimmingCharacters(in: .whitespacesAndNewlines) }.joined(separator: ", "))
    )
    """
}

/// The pairs of the queues without limits that are not paused (those `queues`
/// names, or every one when `allQueues`) and the jobs in `jobs`, each capped
/// at `cap`: what the one-statement claims serve.
private func openQueuePairs(jobs: String, queues: String, allQueues: String, cap: String) -> String {
    """
    SELECT q.name AS queue, j.job, \(cap)::bigint AS cap FROM queues AS q CROSS JOIN unnest(\(jobs)::text[]) AS j(job)
    WHERE \(queueIsOpen("q")) AND (\(allQueues)::boolean OR q.name = ANY(\(queues)::text[]))
    """
}

/// Whether a queue with limits that is not paused is among those `queues`
/// names (every one when `allQueues`): then a one-statement claim, which
/// serves only queues without limits, is followed by a claim in a transaction.
private func limitedQueuesExist(queues: String, allQueues: String) -> String {
    """
    EXISTS (SELECT 1 FROM queues AS q
            WHERE NOT q.paused AND (q.concurrency IS NOT NULL OR q.worker_concurrency IS NOT NULL
                                    OR q.rate_limit IS NOT NULL)
              AND (\(allQueues)::boolean OR q.name = ANY(\(queues)::text[])))
    """
}

/// The CTE `v` of ended runs, from parameters $1 to $9 (arrays, one element per
/// run): id, status, result, error, offset (its place among them), owner,
/// attempt, started_at, outcome.
private let endedRuns = """
    v AS (
        SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[],
                             $7::bigint[], $8::bigint[], $9::text[])
            AS v(id, status, result, error, "offset", owner, attempt, started_at, outcome)
    )
    """

extension PostgresStatement {
    /// Binds `runs` as the parameters `endedRuns` reads (they must come first).
    mutating func bind(endedRuns runs: [EndedRun]) throws {
        bind(column: runs.map { $0.id.rawValue })
        bind(column: runs.map { $0.status.rawValue })
        bind(column: runs.map(\.result))
        bind(column: try runs.map { try $0.error.map(StoredJSON.encode) })
        bind(column: runs.indices.map { Int64($0) })
        bind(column: runs.map(\.owner))
        bind(column: runs.map { Int64($0.attempt) })
        bind(column: runs.map(\.startedAt))
        bind(column: runs.map { AttemptOutcome(ending: $0.status).rawValue })
    }
}

/// Finishes ended runs, fenced by owner and attempt, with their attempt rows,
/// numbering them from a first completion number on; returns that number (on
/// every row, and on one row with NULLs when no run finished) and the finished
/// tasks. Parameters: id, status, result, error, offset (from the first
/// number), owner, attempt, started_at, outcome (arrays, one element per run),
/// now, the first number, and how many numbers to set aside.
///
/// When numbers are set aside (the counter is not locked yet), the counter's
/// row is locked and moved on by this statement, before any task row: the task
/// rows are updated only as they are joined with the first number, which needs
/// the counter's update. The first number is then the counter's, not the one
/// given.
enum FinishRunsStatement: HotStatement {
    static let sql = """
        WITH reserved AS (
            UPDATE durable_counters SET value = value + $12::bigint
            WHERE name = 'completion_seq' AND $12::bigint > 0
            RETURNING value - $12::bigint + 1 AS first
        ), base AS (
            SELECT coalesce((SELECT first FROM reserved), $11::bigint) AS first
        ), \(endedRuns), fenced AS MATERIALIZED (
            -- Each run's row, locked after the counter (as it is joined with the first
            -- number) and looked up by its primary key alone: a generic plan knows
            -- nothing of the arrays' lengths, and joined any other way it compared
            -- every run with every row (500 runs took 100 ms).
            SELECT v.*, base.first + v."offset" AS seq FROM base, v, LATERAL (
                SELECT owner, attempt, status FROM tasks
                WHERE id = v.id AND base.first IS NOT NULL
                FOR UPDATE
            ) AS t
            WHERE t.owner = v.owner AND t.attempt = v.attempt AND t.status = 'running'
        ), done AS (
            UPDATE tasks SET status = f.status, result = f.result, error = f.error, finished_at = $10::bigint,
                             completion_seq = f.seq, owner = NULL, lease_expires_at = NULL
            FROM fenced AS f WHERE tasks.id = f.id
            RETURNING tasks.id, tasks.group_id, tasks.has_callbacks, tasks.cancel_message, tasks.concurrency_key
        ), attempts AS (
            INSERT INTO task_attempts (task_id, attempt, owner, started_at, finished_at, outcome, error)
            SELECT f.id, f.attempt, f.owner, f.started_at, $10::bigint, f.outcome, f.error FROM fenced AS f
            ON CONFLICT DO NOTHING
        )
        SELECT base.first, done.id, done.group_id, done.has_callbacks, done.cancel_message, done.concurrency_key
        FROM base LEFT JOIN done ON TRUE
        """
}

/// A worker's whole cycle in one statement, so in one round trip and one
/// implicit transaction: claims due tasks of the given jobs, and finishes ended
/// runs (fenced by owner and attempt) with their attempt rows and completion
/// numbers. Runs whose finish has consequences (stored done callbacks; a
/// failure in a task group; a concurrency key whose waiting tasks to admit)
/// are left running, as are runs no longer theirs: the caller finishes those
/// in a transaction of its own.
///
/// The claim does not wait for the completion counter: claims of several
/// workers go on while one of them finishes. The counter is locked with
/// `SKIP LOCKED`: when another transaction holds it, no run is finished and a
/// row says so (see ``finishAndClaim(waitsForCounter:)``); the caller then
/// finishes them with ``FinishWaitingStatement``. So this statement never waits
/// for the counter while it holds claimed rows (a transaction that holds the
/// counter may wait for a pending row, to cancel it): no deadlock.
///
/// Returns the finished tasks (id, completion number, cancel message, then
/// NULLs) and the claimed ones (three NULLs, then ``PostgresRows/claimedColumns``),
/// a row of NULLs alone when a queue with limits exists (see
/// `limitedQueuesExist`), and a row with completion number -1 alone when runs
/// were given but the counter was busy. Parameters: the ended runs ($1 to $9,
/// as ``FinishRunsStatement``), now, owner, claim limit, the lease's fixed end
/// or NULL, the lease's duration, jobs, queues, whether every queue.
enum FinishAndClaimStatement: HotStatement {
    static let sql = finishAndClaim(waitsForCounter: false)
}

/// ``FinishAndClaimStatement`` for runs whose first try found the counter
/// busy: it waits for the counter (holding no other lock yet) and claims
/// nothing (pass a claim limit of 0).
enum FinishWaitingStatement: HotStatement {
    static let sql = finishAndClaim(waitsForCounter: true)
}

/// The SQL of ``FinishAndClaimStatement`` and ``FinishWaitingStatement``.
///
/// Lock order, as in every finishing transaction: the completion counter
/// first (`counter`), then the runs' rows, locked as they are joined with the
/// counter's row. The numbers follow the counter's locked value without gaps;
/// the counter moves on by the number of finished runs.
private func finishAndClaim(waitsForCounter: Bool) -> String {
    """
    WITH \(endedRuns), counter AS MATERIALIZED (
        SELECT value FROM durable_counters WHERE name = 'completion_seq'
        FOR UPDATE\(waitsForCounter ? "" : " SKIP LOCKED")
    ), finishing AS MATERIALIZED (
        -- Each run's row, locked after the counter, looked up by its primary key
        -- alone (by owner, the planner would walk all of the owner's running rows).
        SELECT t.id FROM counter, v, LATERAL (
            SELECT id, owner, attempt, status, has_callbacks, group_id, concurrency_key FROM tasks
            WHERE id = v.id AND counter.value IS NOT NULL
            FOR UPDATE
        ) AS t
        WHERE t.owner = v.owner AND t.attempt = v.attempt AND t.status = 'running' AND NOT t.has_callbacks
          AND (t.group_id IS NULL OR v.status <> 'failed') AND t.concurrency_key IS NULL
    ), numbered AS MATERIALIZED (
        SELECT v.*, counter.value + row_number() OVER (ORDER BY v."offset") AS seq
        FROM counter, v JOIN finishing ON finishing.id = v.id
    ), done AS (
        UPDATE tasks SET status = n.status, result = n.result, error = n.error, finished_at = $10::bigint,
                         completion_seq = n.seq, owner = NULL, lease_expires_at = NULL
        FROM numbered AS n WHERE tasks.id = n.id
        RETURNING tasks.id, tasks.completion_seq, tasks.cancel_message
    ), attempts AS (
        INSERT INTO task_attempts (task_id, attempt, owner, started_at, finished_at, outcome, error)
        SELECT n.id, n.attempt, n.owner, n.started_at, $10::bigint, n.outcome, n.error FROM numbered AS n
        ON CONFLICT DO NOTHING
    ), moved AS (
        UPDATE durable_counters SET value = value + (SELECT count(*) FROM numbered)
        WHERE name = 'completion_seq' AND EXISTS (SELECT FROM numbered)
    ), \(claimCTEs(
        owner: "$11", now: "$10", limit: "$12", leaseFixed: "$13", leaseDuration: "$14",
        pairs: openQueuePairs(jobs: "$15", queues: "$16", allQueues: "$17", cap: "$12")))
    SELECT NULL::bigint, NULL::bigint, NULL::text, claimed.* FROM claimed
    UNION ALL
    SELECT done.id, done.completion_seq, done.cancel_message, \(PostgresRows.claimedNulls) FROM done
    UNION ALL
    SELECT NULL::bigint, NULL::bigint, NULL::text, \(PostgresRows.claimedNulls)
    WHERE $12::bigint > 0 AND \(limitedQueuesExist(queues: "$16", allQueues: "$17"))
    UNION ALL
    SELECT NULL::bigint, -1::bigint, NULL::text, \(PostgresRows.claimedNulls)
    WHERE cardinality($1::bigint[]) > 0 AND NOT EXISTS (SELECT FROM counter)
    """
}

/// Inserts tasks from parameters $1 to $16 (one array element per task):
/// job, name, input, context, priority, run_at, deadline, timeout_ms, retry,
/// parent_id, detached, group_id, callback_of (arrays), the default name's
/// prefix, now, trace_context (array), then `columns` (arrays). With
/// `queues`, a row is added for each queue that has none. Returns each task's
/// id and name, in the given order.
///
/// With `claiming` (and no `columns`), $17 (booleans) flags the tasks the
/// caller claims: if queue $21 is open they are stored running for owner $18,
/// their lease ending at $19 (a fixed end, or NULL) or $20 after the database's
/// clock; it returns each task's status and ``PostgresRows/claimedColumns``.
///
/// With `schema` (a valid identifier, ``PostgresConfiguration/schema``), the
/// tables are named in that schema, and each row also gives `current_database()`.
private func insertTasks(
    columns: [(name: String, type: String)], queues: Bool, claiming: Bool = false, schema: String? = nil
) -> String {
    let tasks = schema.map { "\($0).tasks" } ?? "tasks"
    let queuesTable = schema.map { "\($0).queues" } ?? "queues"
    /// TransitionRules.defaultTaskName, in SQL.
    let name = "coalesce(name, $14::text || id)"
    var arrays = columns.enumerated().map { ", $\($0.offset + 17)::\($0.element.type)[]" }.joined()
    var names = columns.map { ", " + $0.name }.joined()
    let stored = "id, job, name, input, context, priority, run_at, deadline, timeout_ms, retry, parent_id, detached, "
        + "group_id, callback_of, created_at, trace_context" + names
    var values = "id, job, \(name), input, context, priority, run_at, deadline, timeout_ms, retry, parent_id, detached, "
        + "group_id, callback_of, $15::bigint, trace_context" + names
    var ctes = ""
    var inserting = "INSERT INTO \(tasks) (\(stored)) SELECT \(values) FROM t"
    var answer = "SELECT id, \(name)\(schema == nil ? "" : ", current_database()") FROM t ORDER BY ord"
    if queues {
        ctes += """
            queued AS (
                INSERT INTO \(queuesTable) (name, created_at, updated_at)
                SELECT DISTINCT queue, $15::bigint, $15::bigint FROM t
                ON CONFLICT (name) DO NOTHING
            ),
            """
    }
    if claiming {
        arrays += ", $17::boolean[]"
        names += ", claim"
        let starts = "claim AND o.open"
        values += """
            , CASE WHEN \(starts) THEN 'running' ELSE 'pending' END, CASE WHEN \(starts) THEN $18::text END,
            CASE WHEN \(starts) THEN 1 ELSE 0 END, CASE WHEN \(starts) THEN $15::bigint END,
            CASE WHEN \(starts) THEN \(leaseEnd(fixed: "$19", duration: "$20")) END
            """
        ctes += "o AS (SELECT EXISTS (SELECT 1 FROM queues AS q WHERE q.name = $21::text AND \(queueIsOpen("q"))) AS open),"
        inserting = """
            INSERT INTO tasks (\(stored), status, owner, attempt, started_at, lease_expires_at)
            SELECT \(values) FROM t CROSS JOIN o
            RETURNING status, \(PostgresRows.claimedColumns)
            """
        answer = "SELECT i.* FROM t JOIN inserted AS i ON i.id = t.id ORDER BY t.ord"
    }
    return """
        WITH t AS MATERIALIZED (
            SELECT nextval(pg_get_serial_sequence('\(tasks)', 'id')) AS id, u.*
            FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[], $7::bigint[],
                        $8::bigint[], $9::text[], $10::bigint[], $11::boolean[], $12::bigint[], $13::bigint[],
                        $16::text[]\(arrays))
                WITH ORDINALITY AS u(job, name, input, context, priority, run_at, deadline, timeout_ms,
                                     retry, parent_id, detached, group_id, callback_of, trace_context\(names), ord)
        ), \(ctes)
        inserted AS (\(inserting))
        \(answer)
        """
}

/// Whether queue `q` (a `queues` row) serves claims made in one statement:
/// not paused, and without limits (``QueueSettings/hasLimits``).
private func queueIsOpen(_ q: String) -> String {
    "NOT \(q).paused AND \(q).concurrency IS NULL AND \(q).worker_concurrency IS NULL AND \(q).rate_limit IS NULL"
}

/// Inserts tasks of the default queue without a concurrency key (those
/// columns keep their defaults): ``insertTasks(columns:queues:)`` with none.
enum InsertTasksStatement: HotStatement {
    static let sql = insertTasks(columns: [], queues: false)
}

/// Inserts tasks of the default queue without a concurrency key, as
/// ``InsertTasksStatement``, and claims those of them that parameter $17 (an
/// array of booleans) flags, if queue $21 (the default) is open: they are
/// stored running for owner $18 with the lease $19 (a fixed end, or NULL) or
/// $20 (a duration after the database's clock). Returns every row's status
/// and ``PostgresRows/claimedColumns``, in the given order. One statement, so
/// that a task created where a worker has a free slot starts after one round
/// trip (and never enters the index of pending tasks).
enum InsertAndClaimTasksStatement: HotStatement {
    static let sql = insertTasks(columns: [], queues: false, claiming: true)
}

/// Inserts tasks of any queue, with their concurrency keys: parameters $17 to
/// $20 are queue, concurrency_key, concurrency_limit and key_waiting (arrays).
enum InsertQueuedTasksStatement: HotStatement {
    static let sql = insertTasks(columns: queueColumns, queues: true)

    static let queueColumns: [(name: String, type: String)] = [
        ("queue", "text"), ("concurrency_key", "text"), ("concurrency_limit", "bigint"), ("key_waiting", "boolean"),
    ]
}

/// ``InsertTasksStatement``, or with `queued` ``InsertQueuedTasksStatement``,
/// naming Durable's tables in `schema` (an application's connection, whose search
/// path is the application's) and returning the connection's database as a
/// third column, so that a connection to another database is told apart.
func applicationInsertTasksSQL(queued: Bool, schema: String) -> String {
    insertTasks(columns: queued ? InsertQueuedTasksStatement.queueColumns : [], queues: queued, schema: schema)
}

/// Claims the due tasks that come first among the given jobs in the queues
/// without limits; returns them (``PostgresRows/claimedColumns``), and a row of
/// NULLs when a queue with limits exists. Parameters: owner, now, limit, the
/// lease's fixed end or NULL, the lease's duration, jobs, queues, whether every queue.
enum ClaimStatement: HotStatement {
    static let sql = """
        WITH \(claimCTEs(
            owner: "$1", now: "$2", limit: "$3", leaseFixed: "$4", leaseDuration: "$5",
            pairs: openQueuePairs(jobs: "$6", queues: "$7", allQueues: "$8", cap: "$3")))
        SELECT * FROM claimed
        UNION ALL
        SELECT \(PostgresRows.claimedNulls) WHERE \(limitedQueuesExist(queues: "$7", allQueues: "$8"))
        """
}

/// Claims the due tasks that come first among the given (queue, job, cap)
/// triples, whatever the queues' limits (the caller applied them).
/// Parameters: owner, now, limit, the lease's fixed end or NULL, the lease's
/// duration, queues, jobs, caps (arrays of one element per pair).
enum ClaimPairsStatement: HotStatement {
    static let sql = """
        WITH \(claimCTEs(
            owner: "$1", now: "$2", limit: "$3", leaseFixed: "$4", leaseDuration: "$5",
            pairs: "SELECT * FROM unnest($6::text[], $7::text[], $8::bigint[]) AS p(queue, job, cap)"))
        SELECT * FROM claimed
        """
}

/// Claims those of the given (new) tasks that are claimable. Parameters:
/// owner, now, ids, the lease's fixed end or NULL, the lease's duration.
enum ClaimCreatedStatement: HotStatement {
    static let sql = """
        UPDATE tasks SET status = 'running', owner = $1::text, attempt = attempt + 1, started_at = $2::bigint,
                         lease_expires_at = \(leaseEnd(fixed: "$4", duration: "$5"))
        WHERE id = ANY($3::bigint[]) AND \(PostgresRows.claimable(now: "$2::bigint"))
        RETURNING \(PostgresRows.claimedColumns)
        """
}
