import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// Idempotency keys name one task in the file, whatever its job.
@Suite("Idempotency keys")
struct TaskKeyTests {
    @Test(
        "a key names one task whatever its job: another job's task with the key is refused and nothing is created",
        .temporaryEngine)
    func keysAreGlobal() async throws {
        let (directory, engine) = (TemporaryEngine.directory, TemporaryEngine.engine)
        let echo = try await engine.createTask(Echo.self, "1", key: "k")
        #expect(try await engine.createTask(Echo.self, "1", key: "k") == echo)
        let otherJob = await #expect(throws: DurableError.self) {
            try await engine.createTask(Flaky.self, "1", key: "k")
        }
        #expect(otherJob?.code == .keyConflict)
        #expect(otherJob?.message.contains("task \(echo.id) of job echo") == true)
        #expect(otherJob?.message.contains("job flaky") == true)
        let otherInput = await #expect(throws: DurableError.self) { try await engine.createTask(Echo.self, "2", key: "k") }
        #expect(otherInput?.code == .keyConflict)
        #expect(otherInput?.message.contains("input \"2\"") == true)
        // A batch with a conflicting key creates none of its tasks.
        await #expect(throws: DurableError.self) {
            try await engine.createTasks(Flaky.self, [TaskRequest("a:0", key: "fresh"), TaskRequest("b:0", key: "k")])
        }
        #expect(try await StoreProbe.read(directory.file("test.sqlite"), "SELECT count(*) FROM tasks") == ["1"])
        try engine.close()
    }

    @Test("a version-1 file holding one key under two jobs migrates, and each job finds its own task", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func version1DuplicateKeysMigrate() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        // Build a version-1 file: today's schema taken back to keys unique per job.
        let engine = try await makeTestEngine(in: directory)
        let echo = try await engine.createTask(Echo.self, "1", key: "shared")
        try engine.close()
        let queue = try DatabaseQueue(path: path)
        try await queue.write { db in
            try db.execute(sql: "DROP INDEX durable_tasks_key")
            try db.execute(sql: "CREATE UNIQUE INDEX durable_tasks_key ON durable_tasks (job, key) WHERE key IS NOT NULL")
            try db.execute(sql: "DELETE FROM durable_migrations WHERE version = 2")
            try db.execute(
                sql: """
                    INSERT INTO durable_tasks (job, name, input, key, run_at, created_at)
                    VALUES ('flaky', 'old', '"1:0"', 'shared', 0, 0)
                    """)
        }
        try queue.close()

        let reopened = try await makeTestEngine(in: directory)
        let versions = try await reopened.appliedMigrations().map(\.version)
        #expect(versions.contains(2))
        let flakyID = try #require(Int64(try await DatabaseProbe.read(path, "SELECT id FROM durable_tasks WHERE job = 'flaky'")[0]))
        #expect(try await reopened.createTask(Echo.self, "1", key: "shared").id == echo.id)
        #expect(try await reopened.createTask(Flaky.self, "1:0", key: "shared").id == TaskID(flakyID))
        #expect(try await DatabaseProbe.read(path, "SELECT count(*) FROM durable_tasks") == ["2"])
        try reopened.close()
    }
}
