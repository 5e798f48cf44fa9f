import DurableEngine
import PostgresNIO

// The reads the change feed makes after another engine's commit.
extension PostgresStore {
    /// What a worker wants read after another engine's commit.
    func workerChanges(for interest: WorkerInterest) async throws -> WorkerChanges {
        guard interest.readsCancelRequests || interest.looksForWork || interest.readsDeadlines else {
            return WorkerChanges(
                cancelRequests: [:], hasClaimableTask: nil, earliestPendingDeadline: nil, readDeadlines: false,
                now: interest.now)
        }
        return try await read("read the changes for worker \(interest.owner)") { connection in
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
            let claimable = interest.looksForWork ? try await self.hasClaimableTask(for: interest, on: connection) : nil
            let deadline =
                interest.readsDeadlines
                ? try await connection.value(
                    """
                    SELECT deadline FROM tasks
                    WHERE deadline IS NOT NULL AND status IN ('pending', 'running') AND status = 'pending'
                    ORDER BY deadline LIMIT 1
                    """, as: Int64.self) : nil
            return WorkerChanges(
                cancelRequests: cancelRequests, hasClaimableTask: claimable, earliestPendingDeadline: deadline,
                readDeadlines: interest.readsDeadlines, now: interest.now)
        }
    }

    /// The tasks finished after completion number `sequence`, in completion order,
    /// at most `limit`, and the completion number through which the page is complete.
    func completions(after sequence: Int64, limit: Int) async throws -> CompletionPage {
        try await read("read completions") { connection in
            // The counter and the rows from one snapshot: every number up to the
            // counter has committed (finishing transactions hold its lock until
            // they commit), so the rows hold all of them that still exist.
            let rows = try await connection.rows(
                """
                WITH latest AS (SELECT value FROM durable_counters WHERE name = 'completion_seq')
                SELECT t.*, latest.value FROM latest LEFT JOIN LATERAL (
                    SELECT \(unescaped: PostgresRows.outcomeColumns) FROM tasks
                    WHERE completion_seq > \(sequence) AND completion_seq <= latest.value
                    ORDER BY completion_seq LIMIT \(Int64(limit))
                ) AS t ON TRUE
                """)
            let latest = try rows.first.flatMap { row -> Int64? in
                var columns = Columns(row, from: 6)
                return try columns.next(Int64?.self)
            } ?? 0
            // Without a task, the one row holds only the counter.
            let found = rows.filter { $0.makeRandomAccess()[0].bytes != nil }
            let outcomes = try found.compactMap { try PostgresRows.outcome($0).outcome }
            // A full page is complete through its last row (whether or not it read
            // as an outcome); a short one through the counter.
            let lastRow = try found.last.flatMap { row -> Int64? in
                var columns = Columns(row, from: 5)
                return try columns.next(Int64?.self)
            }
            let covered = found.count == limit ? (lastRow ?? latest) : latest
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
