import DurableEngine
import PostgresNIO

// The reads the change feed makes after another engine's commit.
extension PostgresStore {
    /// What a worker wants read after another engine's commit.
    func workerChanges(for interest: WorkerInterest) async throws -> WorkerChanges {
        try await read("read the changes for worker \(interest.owner)") { connection in
            var cancelRequests: [TaskID: String?] = [:]
            if interest.readsCancelRequests {
                for row in try await connection.rows(
                    """
                    SELECT id, cancel_message FROM tasks
                    WHERE owner = \(interest.owner) AND status = 'running' AND cancel_requested_at IS NOT NULL
                    """)
                {
                    let (id, message) = try row.decode((Int64, String?).self)
                    cancelRequests[TaskID(id)] = message
                }
            }
            var claimable: Bool?
            if interest.looksForWork {
                claimable = try await Self.hasClaimableTask(jobs: interest.jobs, now: interest.now, on: connection)
            }
            let deadline = try await connection.value(
                """
                SELECT deadline FROM tasks
                WHERE deadline IS NOT NULL AND status IN ('pending', 'running') AND status = 'pending'
                ORDER BY deadline LIMIT 1
                """, as: Int64.self)
            return WorkerChanges(
                cancelRequests: cancelRequests, hasClaimableTask: claimable, earliestPendingDeadline: deadline,
                now: interest.now)
        }
    }

    /// Whether a task of one of `jobs` (any job when `nil`) may be claimed at `now`.
    private static func hasClaimableTask(jobs requested: [String]?, now: Int64, on connection: PostgresConnection)
        async throws -> Bool
    {
        let jobs: [String]
        if let requested {
            jobs = requested
        } else {
            jobs = try await connection.values(PostgresQuery(unsafeSQL: PostgresRows.pendingJobs), as: String.self)
        }
        guard !jobs.isEmpty else { return false }
        var statement = PostgresStatement("SELECT EXISTS (SELECT 1 FROM unnest(")
        let list = try statement.bind(array: jobs)
        let nowPlaceholder = statement.bind(now) + "::bigint"
        statement.append(
            """
            \(list)::text[]) AS j(job), LATERAL (
                SELECT 1 FROM tasks WHERE job = j.job AND \(PostgresRows.claimable(now: nowPlaceholder)) LIMIT 1
            ) AS c)
            """)
        return try await connection.value(statement.query, as: Bool.self) ?? false
    }

    /// The tasks finished after completion number `sequence`, in completion order,
    /// at most `limit`, and the completion number through which the page is complete.
    func completions(after sequence: Int64, limit: Int) async throws -> CompletionPage {
        try await read("read completions") { connection in
            // The counter first: every number up to it has committed (finishing
            // transactions hold its lock until they commit), so the rows read next
            // hold all of them that still exist.
            let latest = try await Self.completionSequence(on: connection)
            let rows = try await connection.rows(
                """
                SELECT \(unescaped: PostgresRows.outcomeColumns) FROM tasks
                WHERE completion_seq > \(sequence) AND completion_seq <= \(latest)
                ORDER BY completion_seq LIMIT \(Int64(limit))
                """)
            let outcomes = try rows.compactMap { try PostgresRows.outcome($0).outcome }
            // A full page is complete through its last row (whether or not it read
            // as an outcome); a short one through the counter.
            let lastRow = try rows.last.flatMap { row -> Int64? in
                var columns = Columns(row, from: 5)
                return try columns.next(Int64?.self)
            }
            let covered = rows.count == limit ? (lastRow ?? latest) : latest
            return CompletionPage(outcomes: outcomes, coveredThrough: max(covered, sequence))
        }
    }

    /// Those of `ids` that no longer exist (pruned).
    func missingTasks(among ids: [TaskID]) async throws -> [TaskID] {
        guard !ids.isEmpty else { return [] }
        return try await read("look for deleted tasks") { connection in
            var statement = PostgresStatement("SELECT id FROM tasks WHERE id = ANY(")
            statement.append(try statement.bind(array: ids.map(\.rawValue)) + ")")
            let existing = Set(try await connection.values(statement.query, as: Int64.self))
            return ids.filter { !existing.contains($0.rawValue) }
        }
    }
}
