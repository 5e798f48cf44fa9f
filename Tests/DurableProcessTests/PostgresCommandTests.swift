import DurableTestKit
import Foundation
import Testing

/// Every command of the built `durable` binary on a PostgreSQL database named by
/// `--db postgres://...` or `$DURABLE_DB`, each test on a schema of its own of
/// the server in DURABLE_TEST_POSTGRES_URL (no server: the tests fail).
@Suite("durable on PostgreSQL: every command on a postgres:// URL")
struct PostgresCommandTests {
    private func objects(_ output: DurableResult) throws -> [[String: Any]] {
        try output.lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test("run, ls, show, stats, watch, retry, cancel, prune, schema and migrate on --db postgres://; no password printed")
    func everyCommand() async throws {
        let directory = TemporaryDirectory()
        let url = try postgresURL(password: "hunter2")
        let jobs = directory.file("jobs.txt")
        try write("echo one\necho two\nexit 3\n", to: jobs)
        var outputs: [DurableResult] = []
        func durable(_ arguments: [String]) async throws -> DurableResult {
            let output = try await durableTool(arguments + ["--db", url], in: directory.path)
            outputs.append(output)
            return output
        }

        // run creates the schema, runs the lines and stores them; a re-run runs nothing.
        let run = try await durable(["run", jobs, "-j", "2"])
        #expect(run.status == 1, "\(run)")
        #expect(Set(run.lines) == ["one", "two"])
        #expect(run.standardError.contains("line 3 failed (exit status 3): exit 3"), "\(run)")
        #expect(run.standardError.contains("2 succeeded, 1 failed"), "\(run)")
        let again = try await durable(["run", jobs])
        #expect(again.status == 1 && again.lines.isEmpty, "\(again)")
        #expect(again.standardError.contains("(3 already done before this run)"), "\(again)")
        let dry = try await durable(["run", jobs, "--dry-run"])
        #expect(dry.status == 0 && dry.lines.last?.contains("2 succeeded, 1 failed") == true, "\(dry)")

        // ls: a table, JSON, and the batch's job by its file.
        let list = try await durable(["ls"])
        #expect(list.status == 0 && list.lines.count == 4, "\(list)")
        #expect(list.lines.first?.hasPrefix("id  status") == true)
        let failed = try objects(try await durable(["ls", "--json", "--status", "failed", "--job", jobs]))
        #expect(failed.count == 1 && failed.first?["name"] as? String == "line 3: exit 3")
        let failedID = try #require(failed.first?["id"] as? Int)

        // show: by id and by FILE:LINE.
        let show = try await durable(["show", "\(jobs):3"])
        #expect(show.status == 0 && show.standardOutput.contains("exit status 3"), "\(show)")
        let shown = try objects(try await durable(["show", "\(failedID)", "--json"]))
        #expect(shown.first?["status"] as? String == "failed")

        // stats and watch: nothing pending or running, so watch ends at once.
        let stats = try objects(try await durable(["stats", "--json"]))
        let totals = try #require(stats.last)
        #expect(totals["succeeded"] as? Int == 2 && totals["failed"] as? Int == 1, "\(stats)")
        let watch = try await durable(["watch", "--interval", "100ms"])
        #expect(watch.status == 0 && watch.standardOutput.contains("succeeded 2, failed 1"), "\(watch)")

        // retry makes the failed line pending; cancel --status pending cancels it; prune deletes it.
        let retry = try await durable(["retry", "\(jobs):3"])
        #expect(retry.status == 0 && retry.standardOutput.contains("pending again"), "\(retry)")
        let cancel = try await durable(["cancel", "--status", "pending", "--job", jobs])
        #expect(cancel.status == 0 && cancel.standardOutput.contains("cancelled 1 pending task(s)"), "\(cancel)")
        let finished = try await durable(["cancel", "\(jobs):1"])
        #expect(finished.standardOutput.contains("already finished (succeeded)"), "\(finished)")
        let unknown = try await durable(["show", "999999"])
        #expect(unknown.status == 2, "\(unknown)")
        #expect(unknown.standardError.contains("no task has id 999999 in postgres://"), "\(unknown)")
        let prune = try await durable(["prune", "--finished-before", "0s", "--status", "cancelled"])
        #expect(prune.status == 0 && prune.standardOutput.contains("deleted 1 finished task(s)"), "\(prune)")
        #expect(try await durable(["ls"]).lines.count == 3)

        // schema and migrate: the migrations applied, named like SQLite's.
        let schema = try await durable(["schema"])
        #expect(schema.status == 0, "\(schema)")
        let initial = schema.lines.first { $0.split(separator: " ").prefix(2) == ["1", "initial"] }
        #expect(initial != nil, "\(schema)")
        let latest = PostgresTestServer.migrationVersions.last ?? 0
        #expect(schema.lines.last?.hasSuffix("schema version \(latest); this build knows up to \(latest)") == true, "\(schema)")
        let migrate = try await durable(["migrate"])
        #expect(migrate.status == 0 && migrate.standardOutput.contains("(0 migration(s) applied now)"), "\(migrate)")

        // The database is named as postgres://user@host:port/db (schema s), never with its password.
        #expect(schema.lines.last?.hasPrefix("postgres://postgres@127.0.0.1:") == true, "\(schema)")
        for output in outputs {
            #expect(!(output.standardOutput + output.standardError).contains("hunter2"), "\(output.standardError)")
        }
    }

    @Test("$DURABLE_DB may hold a postgres:// URL; migrate creates a new schema and says so")
    func environmentVariable() async throws {
        let directory = TemporaryDirectory()
        let url = try postgresURL()
        let environment = ["DURABLE_DB": url]
        let migrate = try await durableTool(["migrate"], environment: environment)
        #expect(migrate.status == 0 && migrate.standardOutput.contains("(\(PostgresTestServer.migrationVersions.count) migration(s) applied now)"), "\(migrate)")
        let jobs = directory.file("jobs.txt")
        try write("echo \"$DURABLE_DATABASE\"\n", to: jobs)
        let run = try await durableTool(["run", jobs], environment: environment)
        #expect(run.status == 0, "\(run)")
        let schema = try #require(URLComponents(string: url)?.queryItems?.first?.value)
        #expect(run.lines.first?.hasPrefix("postgres://postgres@127.0.0.1:") == true, "\(run)")
        #expect(run.lines.first?.hasSuffix("/durable?schema=\(schema)") == true, "\(run)")
        let list = try await durableTool(["ls", "--json"], environment: environment)
        #expect(try objects(list).map { $0["status"] as? String } == ["succeeded"], "\(list)")
        let stats = try await durableTool(["stats"], environment: environment)
        #expect(stats.status == 0 && stats.lines.last?.hasPrefix("finished in the last minute: 1") == true, "\(stats)")
    }

    @Test("a schema without Durable's tables: reading commands refuse it in one line and create nothing; --dry-run runs nothing")
    func schemaMissing() async throws {
        let directory = TemporaryDirectory()
        let url = try postgresURL()
        let schema = try #require(URLComponents(string: url)?.queryItems?.first?.value)
        for command in [["ls"], ["show", "1"], ["stats"], ["watch"], ["schema"], ["cancel", "1"], ["retry", "1"],
            ["prune", "--finished-before", "1d"]]
        {
            let output = try await durableTool(command + ["--db", url])
            #expect(output.status == 2, "\(command): \(output)")
            #expect(output.standardError.split(separator: "\n").count == 1, "\(command): \(output)")
            #expect(output.standardError.contains("(schema \(schema)) has no Durable schema yet"), "\(command): \(output)")
        }
        let jobs = directory.file("jobs.txt")
        try write("echo a\necho b\n", to: jobs)
        let dry = try await durableTool(["run", jobs, "--dry-run", "--db", url])
        #expect(dry.status == 0 && dry.lines.last?.contains("2 would run") == true, "\(dry)")
        // Nothing was created: still no schema.
        #expect(try await durableTool(["ls", "--db", url]).status == 2)
    }

    @Test("fetch on --db postgres://: one line per fetched URL, exactly once across re-runs")
    func fetch() async throws {
        let directory = TemporaryDirectory()
        let url = try postgresURL()
        try await withServer { server in
            let list = directory.file("urls.txt")
            let urls = [server.url("/item/1"), server.url("/item/2"), server.url("/status/404")]
            try write(urls.joined(separator: "\n"), to: list)
            let out = directory.file("out.tsv")
            let first = try await durable(
                ["fetch", list, "--out", out, "--retries", "0", "--db", url], in: directory)
            #expect(first.status == 1, "\(first)")
            #expect(first.summary.contains("2 of 3 URLs fetched, 1 failed"), "\(first)")
            let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n")
            #expect(lines.count == 2)
            let again = try await durable(["fetch", list, "--out", out, "--retries", "0", "--db", url], in: directory)
            #expect(again.status == 1 && server.requests(to: "/item/1") == 1, "\(again)")
            #expect(try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").count == 2)
        }
    }
}
