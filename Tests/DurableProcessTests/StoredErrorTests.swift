import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// A job's own `Codable` error, stored with the task, as `durable show` prints it.
@Suite("Stored errors")
struct StoredErrorTests {
    private func engine(in directory: TemporaryDirectory, counter: RunCounter = RunCounter()) throws -> TaskEngine {
        let engine = try makeEngine(in: directory)
        registerErrorJobs(on: engine, counter: counter)
        return engine
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

    @Test("a job's Codable error comes back as itself where the task is awaited, and its fields are nested JSON")
    func codableErrorRoundTrips() async throws {
        let directory = TemporaryDirectory()
        let engine = try engine(in: directory)
        let task = try await engine.run { engine in
            let task = try await engine.createTask(ThrowsQuota.self, 100)
            do {
                _ = try await task.value
                Issue.record("the task should have failed")
            } catch let error as StoredError {
                #expect(error.decode(as: QuotaExceeded.self) == QuotaExceeded(limit: 100, used: 101, account: "acme"))
                #expect(error.type == String(reflecting: QuotaExceeded.self))
                #expect(error.message == "quota of 100 exceeded by acme")
                #expect(error.decode(as: OtherCodableError.self) == nil, "another type never decodes")
            }
            return task
        }
        #expect(try await task.exception(as: QuotaExceeded.self)?.used == 101)
        #expect(try await task.exception(as: OtherCodableError.self) == nil)
        let stored = try #require(try await task.exception() as? StoredError)
        #expect(stored.detail == #"{"account":"acme","limit":100,"used":101}"#)
        // A person with sqlite3 reads the fields; the views keep reading the message.
        #expect(try await column("json_extract(error, '$.detail.limit')", of: task.id, in: directory) == "100")
        #expect(try await column("json_type(error, '$.detail')", of: task.id, in: directory) == "object")
        let history = try await DatabaseProbe.read(
            directory.file("test.sqlite"), "SELECT error FROM durable_task_history WHERE id = \(task.id)")
        #expect(history == ["quota of 100 exceeded by acme"])
        let attempts = try await DatabaseProbe.read(
            directory.file("test.sqlite"),
            "SELECT CAST(json_extract(error, '$.detail.used') AS TEXT) FROM durable_task_attempts WHERE task_id = \(task.id)")
        #expect(attempts == ["101"])
        // `durable show --json` shows it too.
        let shown = try await runDurableTool(["show", "--db", directory.file("test.sqlite"), "--json", "\(task.id)"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(shown.standardOutput.utf8)) as? [String: Any])
        let detail = (object["error"] as? [String: Any])?["detail"] as? [String: Any]
        #expect(detail?["limit"] as? Int == 100, "\(shown.standardOutput)")
    }
}
