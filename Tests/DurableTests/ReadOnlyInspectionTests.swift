import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// Inspection opens the file read-only: it reads files the user cannot write and
/// never waits for another process's write lock. (Tests run as root, whom
/// permission bits do not stop: the immutable attribute, `chattr +i`, does.)
@Suite("Inspecting a file read-only", .serialized)
struct ReadOnlyInspectionTests {
    /// Opens `path` read-only; the error it throws, if any.
    private func readOnlyOpeningError(_ path: String) -> DurableError? {
        var configuration = EngineConfiguration()
        configuration.access = .readOnly
        do {
            try TaskEngine(path: path, configuration: configuration, logger: testLogger).close()
            return nil
        } catch {
            return error as? DurableError
        }
    }

    @Test("a read-only engine reads what is stored, and a write fails with an error naming the file; nothing changes", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func readOnlyEngine() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        let writer = try await makeTestEngine(in: directory)
        let task = try await writer.createTask(Doubler.self, 1, name: "one")
        try writer.close()
        let before = try Data(contentsOf: URL(fileURLWithPath: path))

        let reader = try await makeTestEngine(in: directory) { $0.access = .readOnly }
        #expect(reader.configuration.access == .readOnly)
        #expect(try await reader.record(of: task.id).name == "one")
        #expect(try await reader.statistics().totals[.pending] == 1)
        let creating = await #expect(throws: DurableError.self) { try await reader.createTask(Doubler.self, 2) }
        #expect(creating?.code == .readOnlyDatabase)
        #expect(creating?.message.contains(path) == true)
        let cancelling = await #expect(throws: DurableError.self) { try await reader.cancel(task.id) }
        #expect(cancelling?.code == .readOnlyDatabase)
        let running = await #expect(throws: DurableError.self) { try await reader.run { _ in } }
        #expect(running?.code == .readOnlyDatabase)
        try reader.close()
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(try await makeEngine(in: directory).record(of: task.id).status == .pending)
    }

    @Test("a read-only engine refuses a missing, empty, foreign, older or newer file, creating and changing nothing", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func readOnlyRefusals() async throws {
        let directory = TemporaryDirectory()
        let missing = directory.file("missing.sqlite")
        #expect(readOnlyOpeningError(missing)?.code == .cannotOpen)
        #expect(readOnlyOpeningError(missing)?.message.contains(missing) == true)
        #expect(!FileManager.default.fileExists(atPath: missing))

        let empty = directory.file("empty.sqlite")
        #expect(FileManager.default.createFile(atPath: empty, contents: nil))
        #expect(readOnlyOpeningError(empty)?.code == .schemaTooOld)
        #expect(try FileManager.default.attributesOfItem(atPath: empty)[.size] as? Int == 0)

        let foreign = directory.file("foreign.sqlite")
        let probe = try DatabaseQueue(path: foreign)
        try await probe.write { db in try db.execute(sql: "CREATE TABLE invoices (id INTEGER PRIMARY KEY)") }
        try probe.close()
        #expect(readOnlyOpeningError(foreign)?.code == .notADurableDatabase)

        let path = directory.file("test.sqlite")
        try await makeTestEngine(in: directory).close()
        let latest = try SchemaReport(path: path).latestKnownVersion
        let edit = try DatabaseQueue(path: path)
        try await edit.write { db in
            try db.execute(sql: "DELETE FROM durable_migrations WHERE version = ?", arguments: [latest])
        }
        let older = readOnlyOpeningError(path)
        #expect(older?.code == .schemaTooOld)
        #expect(older?.message.contains(path) == true)
        try await edit.write { db in
            try db.execute(sql: "INSERT INTO durable_migrations VALUES (?, 'back', 0), (9999, 'future', 0)", arguments: [latest])
        }
        try edit.close()
        #expect(readOnlyOpeningError(path)?.code == .schemaTooNew)
        #expect(try SchemaReport(path: path).applied.map(\.version).last == 9999)
    }
}
