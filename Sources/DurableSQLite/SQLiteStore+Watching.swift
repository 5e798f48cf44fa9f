package import DurableEngine
import GRDB
package import Logging

// The change feed: the reads that follow another connection's commit, on the
// connection that watches for them (the feed's thread calls them one after the
// other, without a hop to a reader queue and back).
extension SQLiteStore {
    package func makeChangeFeed(reporting reader: any ChangeReader, logger: Logger) -> any ChangeFeed {
        SQLiteChangeFeed(store: self, reader: reader, interval: changePollInterval, logger: logger)
    }

    /// What a worker wants read after another connection's commit, in one go.
    func workerChanges(for interest: WorkerInterest) throws -> WorkerChanges {
        WorkerChanges(
            cancelRequests: interest.readsCancelRequests ? try cancelRequests(owner: interest.owner) : [:],
            hasClaimableTask: interest.looksForWork ? try hasClaimableTask(for: interest) : nil,
            earliestPendingDeadline: try earliestPendingDeadline(), now: interest.now)
    }

    /// Looks whether the database changed since `previous` (`nil`: the first
    /// look, which always reports a change), and whether someone other than this
    /// store made the change. Cheap while nothing changed: one `PRAGMA
    /// data_version`, a read of the shared-memory index.
    func checkChanges(since previous: ChangeMark?) throws -> ChangeCheck {
        do {
            return try changeConnection.inDatabase { db in
                let version = try BoundStatement(db, sql: "PRAGMA data_version")
                let dataVersion = try version.step() ? version.int64(0) : 0
                if let previous, previous.dataVersion == dataVersion {
                    return ChangeCheck(mark: previous, changedByOthers: false)
                }
                let counter = try BoundStatement(db, sql: "SELECT value FROM durable_counters WHERE name = 'commits'")
                let commits = try counter.step() ? counter.int64(0) : 0
                let mark = ChangeMark(dataVersion: dataVersion, commits: commits)
                guard let previous else { return ChangeCheck(mark: mark, changedByOthers: true) }
                // A change that did not raise the counter (a person with sqlite3, an
                // older Durable) is someone else's.
                let ownOnly = commits > previous.commits
                    && ownCommits.withLock { $0.madeAll(previous.commits + 1...commits) }
                return ChangeCheck(mark: mark, changedByOthers: !ownOnly)
            }
        } catch {
            throw describe(error, operation: "watch for changes")
        }
    }

    /// The tasks finished after completion number `sequence`, in completion order,
    /// at most `limit`, and the completion number through which the page is complete.
    func completions(after sequence: Int64, limit: Int) throws -> CompletionPage {
        try readOnWatchingConnection("read completions") { db in
            let latest = try Self.completionSequence(db)
            let outcomes = try Row.fetchAll(
                db,
                sql: """
                    SELECT \(SQLiteRows.outcomeColumns) FROM durable_tasks
                    WHERE completion_seq > ? AND completion_seq IS NOT NULL ORDER BY completion_seq LIMIT ?
                    """,
                arguments: [sequence, limit]
            ).compactMap(SQLiteRows.outcome)
            let covered = outcomes.count == limit ? (outcomes.last?.completionSequence ?? latest) : latest
            return CompletionPage(outcomes: outcomes, coveredThrough: max(covered, sequence))
        }
    }

    /// Those of `ids` that no longer exist (pruned).
    func missingTasks(among ids: [TaskID]) throws -> [TaskID] {
        guard !ids.isEmpty else { return [] }
        return try readOnWatchingConnection("look for deleted tasks") { db in
            let list = "[" + ids.map { String($0.rawValue) }.joined(separator: ",") + "]"
            let existing = Set(
                try Int64.fetchAll(
                    db, sql: "SELECT id FROM durable_tasks WHERE id IN (SELECT value FROM json_each(?))", arguments: [list]))
            return ids.filter { !existing.contains($0.rawValue) }
        }
    }

    /// Whether the worker of `interest` could claim a task now (see
    /// ``hasClaimableTask(jobs:queues:owner:now:db:)``).
    func hasClaimableTask(for interest: WorkerInterest) throws -> Bool {
        try readOnWatchingConnection("look for due tasks") { db in
            try Self.hasClaimableTask(
                jobs: interest.jobs, queues: interest.queues, owner: interest.owner, now: interest.now, db: db)
        }
    }

    /// Running tasks of `owner` with a stored cancel request, and their messages.
    func cancelRequests(owner: String) throws -> [TaskID: String?] {
        try readOnWatchingConnection("read cancel requests") { db in
            let rows = try Row.fetchAll(
                db,
                sql: """
                    SELECT id, cancel_message FROM durable_tasks
                    WHERE owner = ? AND status = 'running' AND cancel_requested_at IS NOT NULL
                    """,
                arguments: [owner])
            return Dictionary(
                uniqueKeysWithValues: rows.map { (TaskID($0["id"] as Int64), $0["cancel_message"] as String?) })
        }
    }

    /// The earliest deadline of a pending task (passed or not), if any.
    func earliestPendingDeadline() throws -> Int64? {
        try readOnWatchingConnection("look for the next deadline") { db in
            // The index's own condition, repeated, lets SQLite use it.
            try Int64.fetchOne(
                db.cachedStatement(
                    sql: """
                        SELECT deadline FROM durable_tasks
                        WHERE deadline IS NOT NULL AND status IN ('pending', 'running') AND status = 'pending'
                        ORDER BY deadline LIMIT 1
                        """))
        }
    }
}
