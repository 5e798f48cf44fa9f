import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// A job's own `Codable` error, stored with the task and read back as itself:
/// from `task.value`, `task.exception(as:)`, after a reopen, and from a step's
/// stored failure replayed on a re-run.
@Suite("Stored errors")
struct StoredErrorTests {
    private func engine(in directory: TemporaryDirectory, counter: RunCounter = RunCounter()) async throws -> TaskEngine {
        let engine = try await makeTestEngine(in: directory)
        registerErrorJobs(on: engine, counter: counter)
        return engine
    }

    /// Runs one task of `job` on `engine` until it has finished, and returns it.
    private func finished<J: Job>(_ job: J.Type, _ input: J.Input, on engine: TaskEngine) async throws
        -> DurableTask<J.Output>
    {
        try await engine.run { engine in
            let task = try await engine.createTask(job, input)
            _ = try? await task.value
            return task
        }
    }

    /// An expression on one task's row, as text (`nil` for NULL), read through a
    /// plain connection as a person with sqlite3 would.
    private func column(_ sql: String, of id: TaskID, in directory: TemporaryDirectory) async throws -> String? {
        let queue = try DatabaseQueue(path: directory.file("test.sqlite"))
        defer { try? queue.close() }
        return try await queue.read { db in
            try String.fetchOne(db, sql: "SELECT CAST((\(sql)) AS TEXT) FROM durable_tasks WHERE id = ?", arguments: [id.rawValue])
        }
    }

    @Test("a task re-attached after the engine was closed and reopened decodes its error from the file")
    func reattachedAfterReopen() async throws {
        let directory = TemporaryDirectory()
        let first = try await engine(in: directory)
        let id = try await finished(ThrowsQuota.self, 7, on: first).id
        try first.close()

        let reopened = try await engine(in: directory)
        defer { try? reopened.close() }
        let task = try await reopened.task(id: id, as: ThrowsQuota.self)
        #expect(try await task.exception(as: QuotaExceeded.self) == QuotaExceeded(limit: 7, used: 8, account: "acme"))
        let error = await #expect(throws: StoredError.self) { try await task.value }
        #expect(error?.decode(as: QuotaExceeded.self)?.limit == 7)
        let record = try await reopened.record(of: id)
        #expect(record.error?.decode(as: QuotaExceeded.self)?.account == "acme")
    }

    @Test("a step's stored NonRetryable failure replays on a re-run as the same error, without running the step")
    func stepFailureReplays() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await engine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(QuotaInStep.self, 5)
            let error = await #expect(throws: StoredError.self) { try await task.value }
            // The second attempt's error is the replayed one: the job re-threw what the step threw.
            #expect(try await engine.record(of: task.id).attempt == 2)
            #expect(error?.decode(as: StepQuota.self) == StepQuota(limit: 5))
            #expect(try await task.exception(as: StepQuota.self) == StepQuota(limit: 5))
        }
        #expect(counter.count("quota-step") == 1)
        let steps = try await StoreProbe.read(
            directory.file("test.sqlite"),
            TestStore.isSQLite
                ? "SELECT name || ':' || status || ':' || json_extract(error, '$.detail.limit') FROM task_steps"
                : "SELECT name || ':' || status || ':' || (CAST(error AS jsonb) -> 'detail' ->> 'limit') FROM task_steps")
        #expect(steps == ["check:failed:5"])
    }

    @Test("an error that is not Codable keeps its type and message only", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func plainError() async throws {
        let directory = TemporaryDirectory()
        let engine = try await engine(in: directory)
        let task = try await finished(ThrowsPlain.self, "disk", on: engine)
        let stored = try #require(try await task.exception() as? StoredError)
        #expect(stored.type == String(reflecting: PlainFailure.self))
        #expect(stored.message == "plain failure: disk")
        #expect(stored.detail == nil)
        #expect(try await column("json_type(error, '$.detail')", of: task.id, in: directory) == nil)
    }

    @Test("an error whose encoding throws is stored without its encoding, and the task still fails normally")
    func unencodableError() async throws {
        let directory = TemporaryDirectory()
        let engine = try await engine(in: directory)
        let task = try await finished(ThrowsUnencodable.self, "x", on: engine)
        let error = await #expect(throws: StoredError.self) { try await task.value }
        #expect(error?.message == "cannot encode me: x")
        #expect(try await task.status() == .failed)
        let stored = try #require(try await task.exception() as? StoredError)
        #expect(stored.type == String(reflecting: UnencodableFailure.self))
        #expect(stored.detail == nil)
        #expect(try await task.exception(as: UnencodableFailure.self) == nil)
    }

    @Test("an error row stored without a detail (by an older build, or by hand) still reads back", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func rowWithoutDetail() async throws {
        let directory = TemporaryDirectory()
        let engine = try await engine(in: directory)
        let task = try await finished(ThrowsQuota.self, 1, on: engine)
        let queue = try DatabaseQueue(path: directory.file("test.sqlite"))
        try await queue.write { db in
            try db.execute(
                sql: "UPDATE durable_tasks SET error = ? WHERE id = ?",
                arguments: [#"{"kind":"failed","message":"old row","type":"\#(String(reflecting: QuotaExceeded.self))"}"#, task.id.rawValue])
        }
        try queue.close()
        let stored = try #require(try await task.exception() as? StoredError)
        #expect(stored.message == "old row")
        #expect(stored.kind == .failed)
        #expect(stored.detail == nil)
        #expect(stored.decode(as: QuotaExceeded.self) == nil)
    }
}
