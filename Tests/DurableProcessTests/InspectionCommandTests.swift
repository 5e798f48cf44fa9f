import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// The inspection and administration commands of the built `durable` binary:
/// tables for people, JSON lines for scripts, and one-line errors.
@Suite("durable ls, show, stats, watch, cancel, retry, prune, migrate")
struct InspectionCommandTests {
    private func durable(_ arguments: [String]) async throws -> DurableToolOutput {
        try await runDurableTool(arguments)
    }

    /// A database with 3 succeeded, 1 failed, 1 cancelled and 2 pending tasks.
    func populated(_ directory: TemporaryDirectory) async throws -> (path: String, engine: TaskEngine) {
        let engine = try makeEngine(in: directory)
        try await engine.run { engine async throws -> Void in
            let done = try await engine.createTasks(
                Echo.self, [TaskRequest("a", name: "img-1"), TaskRequest("b", name: "img-2"), TaskRequest("c", name: "doc-1")])
            _ = try await engine.gather(done)
            _ = try? await engine.createTask(Fail.self, "broken", name: "img-3").value
        }
        let cancelled = try await engine.createTask(Echo.self, "x", name: "doc-2")
        _ = try await cancelled.cancel(message: "not wanted")
        _ = try await engine.createTasks(Doubler.self, [TaskRequest(1, name: "num-1"), TaskRequest(2, name: "num-2")])
        return (directory.file("test.sqlite"), engine)
    }

    /// Runs SQL on a file through a plain connection, as a person with sqlite3 would.
    private func execute(_ path: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { try $0.execute(sql: sql) }
        try queue.close()
    }

    /// A task's stored status, read through a plain connection.
    private func status(of id: Int64, in path: String) throws -> String? {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { try String.fetchOne($0, sql: "SELECT status FROM durable_tasks WHERE id = ?", arguments: [id]) }
    }

    private func jsonObjects(_ output: DurableToolOutput) throws -> [[String: Any]] {
        try output.lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
    }

    @Test("ls lists tasks newest first as a table, and filters by status, name, job and limit")
    func listTable() async throws {
        let directory = TemporaryDirectory()
        let (path, _) = try await populated(directory)
        let all = try await durable(["ls", "--db", path])
        #expect(all.status == 0)
        #expect(all.lines.first?.hasPrefix("id  status") == true)
        #expect(all.lines.count == 8)
        #expect(all.lines[1].contains("num-2"))
        let failed = try await durable(["ls", "--db", path, "--status", "failed"])
        #expect(failed.lines.count == 2)
        #expect(failed.lines[1].contains("img-3") && failed.lines[1].contains("test failure: broken"))
        let images = try await durable(["ls", "--db", path, "--name", "img-*", "--limit", "2"])
        #expect(images.lines.count == 3)
        let doubles = try await durable(["ls", "--db", path, "--job", "double"])
        #expect(doubles.lines.dropFirst().allSatisfy { $0.contains("pending") })
    }

    @Test("ls --json prints one object per line with the stored fields")
    func listJSON() async throws {
        let directory = TemporaryDirectory()
        let (path, _) = try await populated(directory)
        let output = try await durable(["ls", "--db", path, "--json", "--status", "succeeded"])
        let objects = try jsonObjects(output)
        #expect(objects.count == 3)
        #expect(objects.map { $0["name"] as? String } == ["doc-1", "img-2", "img-1"])
        #expect(objects.allSatisfy { $0["status"] as? String == "succeeded" && $0["job"] as? String == "echo" })
        #expect(objects.last?["result"] as? String == "a")
    }

    @Test("show prints a task with its attempts, and its error; --json has the same")
    func show() async throws {
        let directory = TemporaryDirectory()
        let (path, _) = try await populated(directory)
        let output = try await durable(["show", "--db", path, "4"])
        #expect(output.status == 0)
        #expect(output.standardOutput.contains("img-3"))
        #expect(output.standardOutput.contains("attempts:"))
        #expect(output.standardOutput.contains("test failure: broken"))
        let json = try #require(try jsonObjects(try await durable(["show", "--db", path, "--json", "4"])).first)
        #expect(json["status"] as? String == "failed")
        #expect((json["attempts"] as? [[String: Any]])?.first?["outcome"] as? String == "failed")
        let unknown = try await durable(["show", "--db", path, "999"])
        #expect(unknown.status != 0)
        #expect(unknown.standardError.contains("no task has id 999"))
    }

    @Test("stats counts by job and status, as a table and as JSON")
    func stats() async throws {
        let directory = TemporaryDirectory()
        let (path, _) = try await populated(directory)
        let table = try await durable(["stats", "--db", path])
        #expect(table.status == 0)
        #expect(table.lines.contains { $0.hasPrefix("echo") && $0.contains("3") })
        let objects = try jsonObjects(try await durable(["stats", "--db", path, "--json"]))
        let echo = try #require(objects.first { $0["job"] as? String == "echo" })
        #expect(echo["succeeded"] as? Int == 3)
        #expect(echo["cancelled"] as? Int == 1)
        let totals = try #require(objects.last)
        #expect(totals["pending"] as? Int == 2)
        #expect(totals["finished_last_hour"] as? Int == 5)
        // The two pending tasks are due: the older one's wait is shown.
        #expect((totals["oldest_due_wait_ms"] as? Int).map { $0 >= 0 } == true)
        #expect(table.lines.last?.hasPrefix("the longest-waiting due task has waited ") == true)
    }

    @Test("cancel by id and --status pending, retry by id and --failed, prune old finished tasks")
    func administration() async throws {
        let directory = TemporaryDirectory()
        let (path, engine) = try await populated(directory)
        let cancelOne = try await durable(["cancel", "--db", path, "6"])
        #expect(cancelOne.status == 0 && cancelOne.standardOutput.contains("6: cancelled"))
        #expect(try await engine.record(of: 6).status == .cancelled)
        let again = try await durable(["cancel", "--db", path, "6"])
        #expect(again.standardOutput.contains("already finished"))
        let unknown = try await durable(["cancel", "--db", path, "404"])
        #expect(unknown.status != 0 && unknown.standardError.contains("no task has id 404"))
        let all = try await durable(["cancel", "--db", path, "--status", "pending"])
        #expect(all.standardOutput.contains("cancelled 1 pending task(s)"))
        #expect(try await engine.record(of: 7).cancelMessage == "cancelled with durable cancel")

        let retry = try await durable(["retry", "--db", path, "--failed"])
        #expect(retry.standardOutput.contains("1 failed task(s) are pending again"))
        #expect(try await engine.record(of: 4).status == .pending)
        let retryOne = try await durable(["retry", "--db", path, "5", "1"])
        #expect(retryOne.standardOutput.contains("5: pending again"))
        #expect(retryOne.standardOutput.contains("1: not failed or cancelled"))

        let keep = try await durable(["prune", "--db", path, "--finished-before", "1h"])
        #expect(keep.standardOutput.contains("deleted 0"))
        let prune = try await durable(["prune", "--db", path, "--finished-before", "0s", "--status", "succeeded"])
        #expect(prune.standardOutput.contains("deleted 3"))
        let left = try await engine.tasks(matching: TaskQuery())
        #expect(left.allSatisfy { $0.status != .succeeded })
        #expect(left.count == 4)
    }

    @Test("watch prints counts and returns once nothing is pending or running")
    func watch() async throws {
        let directory = TemporaryDirectory()
        let (path, engine) = try await populated(directory)
        _ = try await engine.cancelPendingTasks()
        let output = try await durable(["watch", "--db", path, "--interval", "10ms"])
        #expect(output.status == 0)
        #expect(output.standardOutput.contains("pending 0, running 0, succeeded 3, failed 1, cancelled 3"))
    }

    @Test("inspection refuses a missing, foreign or newer database with one line, changing nothing")
    func badDatabases() async throws {
        let directory = TemporaryDirectory()
        let missing = try await durable(["ls", "--db", directory.file("absent.sqlite")])
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("no database at"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("absent.sqlite")))

        let foreign = directory.file("foreign.sqlite")
        try execute(foreign, "CREATE TABLE t (x)")
        let refused = try await durable(["stats", "--db", foreign])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains("not a Durable one"))

        let (path, _) = try await populated(directory)
        try execute(path, "INSERT INTO durable_migrations VALUES (9999, 'future', 0)")
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let tooNew = try await durable(["ls", "--db", path])
        #expect(tooNew.status != 0)
        #expect(tooNew.standardError.contains("newer than this build"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("a database locked by another process, or read-only, gives one line naming it; nothing changes")
    func lockedAndReadOnly() async throws {
        let directory = TemporaryDirectory()
        let (path, _) = try await populated(directory)
        // Another connection holds the write lock for the whole command.
        var holding = Configuration()
        holding.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: path, configuration: holding)
        try await holder.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE") }
        let locked = try await durable(["cancel", "--db", path, "--lock-timeout", "300ms", "6"])
        try await holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        try holder.close()
        #expect(locked.status != 0)
        #expect(locked.standardError.contains("stayed locked"))
        #expect(locked.standardError.contains(path))

        try execute(path, "PRAGMA wal_checkpoint(TRUNCATE)")
        try #require(runCommand("/usr/bin/chattr", ["+i", path]).status == 0, "chattr +i must work on the test folder's filesystem")
        defer { _ = runCommand("/usr/bin/chattr", ["-i", path]).status }
        let readOnly = try await durable(["cancel", "--db", path, "6"])
        #expect(readOnly.status != 0)
        #expect(readOnly.standardError.contains("cannot be written"))
        _ = runCommand("/usr/bin/chattr", ["-i", path]).status
        #expect(try status(of: 6, in: path) == "pending")
    }

    @Test("migrate creates a database and reports its schema")
    func migrate() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("new.sqlite")
        let output = try await durable(["migrate", "--db", path])
        #expect(output.status == 0)
        #expect(output.standardOutput.contains("schema version \(DurableVersion.schemaVersion)"))
        #expect(FileManager.default.fileExists(atPath: path))
    }
}
