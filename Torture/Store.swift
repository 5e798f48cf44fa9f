import DurablePostgres
import DurableTestKit
import Foundation

/// Which store the scenarios run on: SQLite files in each scenario's folder (the
/// default), or fresh schemas on the PostgreSQL server that `--postgres URL` names.
struct StoreTarget: Sendable {
    /// The server's URL (without `schema=` or `application_name=`), `nil` for SQLite.
    let postgresURL: String?
    /// Tells this run's schemas and worker sessions apart from other runs' on the server.
    let runID: String

    static let sqlite = StoreTarget(postgresURL: nil, runID: "")

    /// A target on the server at `url`; `sslmode=disable` is added unless the URL sets it.
    static func postgres(_ url: String) throws -> StoreTarget {
        guard PostgresConfiguration.isURL(url), var parts = URLComponents(string: url) else {
            throw TortureFailure("--postgres needs a postgres://user@host:port/database URL, not \(url)")
        }
        var items = (parts.queryItems ?? []).filter { $0.name != "schema" && $0.name != "application_name" }
        if !items.contains(where: { $0.name == "sslmode" }) { items.append(URLQueryItem(name: "sslmode", value: "disable")) }
        parts.queryItems = items
        guard let cleaned = parts.string else { throw TortureFailure("cannot read the URL \(url)") }
        _ = try PostgresConfiguration(url: cleaned)  // a clear error now rather than in every worker
        let runID = String(UInt32.random(in: 0...UInt32.max), radix: 16)
        return StoreTarget(postgresURL: cleaned, runID: runID)
    }

    var isPostgres: Bool { postgresURL != nil }

    /// "SQLite" or "PostgreSQL at host:port/database" (no user name or password).
    var description: String {
        guard let url = postgresURL, let parts = URLComponents(string: url) else { return "SQLite" }
        return "PostgreSQL at \(parts.host ?? "?"):\(parts.port ?? 5432)\(parts.path)"
    }

    /// The prefix of every schema a scenario of this run makes (`torture_<run>_<scenario>`).
    func schemaPrefix(scenario: String) -> String {
        "torture_\(runID)_" + scenario.replacingOccurrences(of: "-", with: "_")
    }

    /// A new database for `scenario`: the file `file` in `folder`, or on PostgreSQL a
    /// new schema named after the scenario and `file`'s name without its extension.
    func newDatabase(_ file: String, in folder: Folder, scenario: String) -> ScenarioDatabase {
        guard let url = postgresURL else {
            return ScenarioDatabase(address: folder.file(file), workerAddress: folder.file(file), sessionName: nil)
        }
        let stem = file.split(separator: ".").first.map(String.init) ?? file
        let schema = schemaPrefix(scenario: scenario) + "_" + stem.filter { $0.isLetter || $0.isNumber }.lowercased()
        let address = url + "&schema=" + schema
        let sessions = "torture\(runID)\(stem.filter { $0.isLetter || $0.isNumber }.lowercased())"
        return ScenarioDatabase(
            address: address, workerAddress: address + "&application_name=" + sessions, sessionName: sessions)
    }

    /// Drops the schemas a scenario of this run made (after it passed, unless `--keep`).
    func dropSchemas(scenario: String) async throws {
        guard let url = postgresURL else { return }
        let prefix = schemaPrefix(scenario: scenario)
        try await withProbe(url + "&schema=public") { probe in
            for schema in try await probe.strings("SELECT nspname FROM pg_namespace") where schema.hasPrefix(prefix) {
                try await probe.execute("DROP SCHEMA \(schema) CASCADE")
            }
        }
    }
}

/// One scenario's database, and what a scenario must do differently on each store.
struct ScenarioDatabase: Sendable {
    /// The SQLite file, or the schema's URL: for the suite's own engines and probes.
    let address: String
    /// What the worker processes get: on PostgreSQL the URL naming their sessions.
    let workerAddress: String
    /// The first word of the worker processes' sessions' `application_name`
    /// (PostgreSQL only).
    let sessionName: String?

    var isPostgres: Bool { sessionName != nil }

    /// On PostgreSQL, waits until the server has ended every session of the worker
    /// processes (a SIGKILLed worker's sessions may linger briefly, and the server
    /// may still finish a COMMIT the worker sent just before dying), so that what is
    /// read next is what no process changes any more. Nothing to wait for on SQLite.
    func waitForWorkerSessions(_ probe: SQLProbe) async throws {
        guard let sessionName else { return }
        try await poll("the worker sessions \(sessionName) ended", timeout: .seconds(60)) {
            try await probe.int(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE '\(sessionName) %'") == 0
        }
    }

    /// Problems with the stored data as a whole. On SQLite, `PRAGMA quick_check`
    /// (or, when `thorough`, `integrity_check`) on a connection of its own; on both
    /// stores, the rows' own consistency (``rowConsistency(_:)``). PostgreSQL keeps
    /// its own pages sound (there is no file of Durable's to check): on it the rows
    /// are what is checked.
    func soundness(_ probe: SQLProbe, thorough: Bool) async throws -> [String] {
        var problems = try await Self.rowConsistency(probe)
        if !isPostgres {
            let fileProbe = try DatabaseProbe(path: address)
            defer { try? fileProbe.close() }
            let check = thorough ? try fileProbe.integrityCheck() : try fileProbe.quickCheck()
            if check != ["ok"] {
                problems.append("\(thorough ? "integrity_check" : "quick_check"): \(check.prefix(5))")
            }
        }
        return problems
    }

    /// Rules every committed state of Durable's rows keeps, whatever process was
    /// killed when: a running task has an owner and a lease, a task that is not
    /// running has no owner, a finished task has its completion number (and a
    /// succeeded one its result), an unfinished one none, and every attempt, step
    /// and child belongs to a task that exists (with no attempt beyond the task's).
    static func rowConsistency(_ probe: SQLProbe) async throws -> [String] {
        let rules: [(what: String, sql: String)] = [
            (
                "running tasks without owner or lease",
                "SELECT id FROM tasks WHERE status = 'running' AND (owner IS NULL OR lease_expires_at IS NULL)"
            ),
            ("tasks not running that have an owner", "SELECT id FROM tasks WHERE status <> 'running' AND owner IS NOT NULL"),
            (
                "succeeded tasks without result, completion number or end time",
                """
                SELECT id FROM tasks WHERE status = 'succeeded'
                AND (result IS NULL OR completion_seq IS NULL OR finished_at IS NULL)
                """
            ),
            (
                "unfinished tasks with a completion number",
                "SELECT id FROM tasks WHERE status IN ('pending', 'running') AND completion_seq IS NOT NULL"
            ),
            (
                "attempts of tasks that do not exist or beyond their task's attempt",
                """
                SELECT a.task_id FROM task_attempts AS a LEFT JOIN tasks AS t ON t.id = a.task_id
                WHERE t.id IS NULL OR a.attempt > t.attempt
                """
            ),
            (
                "steps of tasks that do not exist",
                "SELECT s.task_id FROM task_steps AS s LEFT JOIN tasks AS t ON t.id = s.task_id WHERE t.id IS NULL"
            ),
            (
                "children whose parent does not exist",
                """
                SELECT c.id FROM tasks AS c LEFT JOIN tasks AS p ON p.id = c.parent_id
                WHERE c.parent_id IS NOT NULL AND p.id IS NULL
                """
            ),
        ]
        var problems: [String] = []
        for rule in rules {
            let ids = try await probe.strings(rule.sql)
            if !ids.isEmpty { problems.append("\(ids.count) \(rule.what), e.g. task(s) \(ids.prefix(5))") }
        }
        return problems
    }
}
