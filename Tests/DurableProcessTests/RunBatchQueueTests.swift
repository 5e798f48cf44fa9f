import DurableTestKit
import Foundation
import Testing

/// `durable run` puts each batch in a queue of its own (`run:<batch>`): `durable
/// queues` lists, pauses and resumes it; databases of builds that named the job
/// after the batch are moved into the queues by a migration, on both stores.
@Suite("durable run: a queue per batch", .serialized)
struct RunBatchQueueTests {
    /// A batch of `commands` (each appending to the log) run once by `durable run`
    /// on a new database of `store`.
    private func ranBatch(_ commands: [String], on store: CommandStore) async throws
        -> (directory: TemporaryDirectory, db: String, log: String, file: String)
    {
        let directory = TemporaryDirectory()
        let db = try store.newDatabase(in: directory, file: "run.sqlite")
        let log = directory.file("log")
        let file = directory.file("commands.txt")
        try write(commands.map { "echo \($0) >> \(log)" }.joined(separator: "\n") + "\n", to: file)
        let first = try await durableTool(["run", file, "--db", db, "--quiet"], in: directory.path)
        #expect(first.status == 0, "\(first)")
        return (directory, db, log, file)
    }

    @Test("a batch's lines wait in its queue: ls --queue FILE lists them, durable queues lists it, a pause holds them",
        arguments: CommandStore.allCases)
    func batchQueue(store: CommandStore) async throws {
        let (directory, db, log, file) = try await ranBatch(["a", "b"], on: store)

        let listed = try await durableTool(["ls", "--queue", file, "--db", db, "--json"])
        let rows = try listed.lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(rows.count == 2 && rows.allSatisfy { $0["job"] as? String == "durable.run" }, "\(listed)")
        let queue = try #require(rows.first?["queue"] as? String)
        // SQLite: the file's absolute path; PostgreSQL: its name and a hash of its lines.
        #expect(queue.hasPrefix(store == .postgres ? "run:commands.txt@" : "run:/"), "\(queue)")
        #expect(store == .postgres || queue.hasSuffix("/commands.txt"), "\(queue)")
        #expect(try await durableTool(["ls", "--job", file, "--db", db]).lines.count == 3, "a header and two lines")

        // A batch paused (here before its first run: --batch names it) holds its
        // lines; resumed, they run.
        let pause = try await durableTool(["queues", "pause", "run:nightly", "--db", db])
        #expect(pause.status == 0, "\(pause)")
        let nightly = directory.file("nightly.txt")
        try write("echo c >> \(log)\n", to: nightly)
        let held = try RunningDurable(["run", nightly, "--batch", "nightly", "--db", db, "--quiet"], in: directory)
        let probe = try await SQLProbe.open(db)
        try await poll("the line's task is stored", child: held) {
            try await probe.int("SELECT count(*) FROM tasks WHERE input LIKE '%echo c%'") == 1
        }
        let paused = try await durableTool(["queues", "list", "--db", db, "--json"])
        let entry = try #require(
            try paused.lines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { $0["queue"] as? String == "run:nightly" })
        #expect(entry["paused"] as? Bool == true && entry["pending"] as? Int == 1, "\(paused)")
        #expect(try lines(of: log).sorted() == ["a", "b"], "nothing of a paused batch starts")
        #expect(try await durableTool(["queues", "resume", "run:nightly", "--db", db]).status == 0)
        let resumed = try await held.finish()
        #expect(resumed.status == 0, "\(resumed)")
        #expect(try lines(of: log).sorted() == ["a", "b", "c"])
        await probe.close()
    }

    @Test(
        "lines stored by builds that named the job after the batch are moved into its queue and not run again; other rows stay",
        arguments: CommandStore.allCases)
    func olderBuildsJobs(store: CommandStore) async throws {
        let (directory, db, log, file) = try await ranBatch(["a", "b", "c", "d"], on: store)

        // What a build before queues stored: the job `run:<batch>`, the default
        // queue, and no migration 11 (PostgreSQL: 7). Two rows that look like
        // such lines but are not must stay as they are.
        let probe = try await SQLProbe.open(db)
        if store == .postgres {
            try await probe.execute("UPDATE tasks SET job = 'run:' || (input::jsonb ->> 'file'), queue = 'default'")
            try await probe.execute("DELETE FROM durable_migrations WHERE version = 7")
            try await probe.execute("UPDATE tasks SET input = 'not json', job = 'run:broken', key = NULL WHERE name LIKE 'line 4:%'")
        } else {
            try await probe.execute("UPDATE tasks SET job = 'run:' || json_extract(input, '$.file'), queue_id = 0")
            try await probe.execute("DELETE FROM durable_migrations WHERE version = 11")
            try await probe.execute("UPDATE tasks SET input = 'not json', job = 'run:broken', key = NULL WHERE name LIKE 'line 4:%'")
        }
        try await probe.execute("DELETE FROM queues WHERE name LIKE 'run:%'")
        try await probe.execute("UPDATE tasks SET job = 'run:elsewhere', key = NULL WHERE name LIKE 'line 3:%'")

        let again = try await durableTool(["run", file, "--db", db], in: directory.path)
        #expect(again.status == 0, "\(again)")
        #expect(again.standardError.contains("4 succeeded, 0 failed (2 already done before this run)"), "\(again)")
        #expect(try lines(of: log).sorted() == ["a", "b", "c", "c", "d", "d"], "only the lines whose rows stayed ran again")
        #expect(try await probe.strings("SELECT job FROM tasks ORDER BY id") == [
            "durable.run", "durable.run", "run:elsewhere", "run:broken", "durable.run", "durable.run",
        ])
        #expect(try await probe.strings("SELECT input FROM tasks WHERE job = 'run:broken'") == ["not json"])
        let queues = try await durableTool(["queues", "list", "--db", db, "--json"])
        let batch = try #require(
            try queues.lines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                .first { ($0["queue"] as? String)?.hasPrefix("run:") == true })
        #expect(batch["pending"] as? Int == 0, "\(queues)")
        #expect(try await durableTool(["ls", "--queue", file, "--db", db]).lines.count == 5, "a header and four lines")
        await probe.close()
    }
}
