import DurableTestKit
import Durable
import Foundation
import GRDB
import InMemoryLogging
import Logging
import Testing

/// Bad input from outside: unknown jobs, undecodable stored input, and files that
/// are not (or not yet) Durable databases. Each gives a clear error naming the
/// thing, and nothing stored is lost or changed.
@Suite("Bad input")
struct BadInputTests {
    /// Edits a database behind the engine's back, as a person with sqlite3 would.
    private func edit(_ path: String, _ sql: String, _ arguments: StatementArguments = []) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { try $0.execute(sql: sql, arguments: arguments) }
        try queue.close()
    }

    /// One value read through a plain connection.
    private func scalar<T: DatabaseValueConvertible>(_ path: String, _ sql: String) throws -> T? {
        let queue = try DatabaseQueue(path: path)
        defer { try? queue.close() }
        return try queue.read { try T.fetchOne($0, sql: sql) }
    }

    /// The error that opening an engine on the test file throws, recording an
    /// issue if it throws nothing or something else.
    private func openingError(in directory: TemporaryDirectory) -> DurableError? {
        do {
            _ = try makeEngine(in: directory)
            Issue.record("opening the engine must fail")
        } catch let error as DurableError {
            return error
        } catch {
            Issue.record("expected a DurableError, got \(error)")
        }
        return nil
    }

    private func contents(_ path: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: path))
    }

    @Test("a task of an unregistered job stays pending, with a log line naming the job, and others still run")
    func unknownJobStaysPending() async throws {
        struct Unknown: Job {
            static let name = "registered-elsewhere"
            func run(_ input: Int, context: TaskContext) async throws -> Int { input }
        }
        let directory = TemporaryDirectory()
        let submitter = try makeEngine(in: directory)
        let orphan = try await submitter.createTask(Unknown.self, 1)

        let logs = InMemoryLogHandler()
        let worker = try makeEngine(in: directory, logger: Logger(label: "test") { _ in logs })
        let reported: @Sendable () -> Bool = {
            logs.entries.contains { "\($0.message)".contains("registered-elsewhere") && "\($0.message)".contains("stay pending") }
        }
        try await worker.run { engine async throws -> Void in
            #expect(try await engine.createTask(Doubler.self, 2).value == 4)
            // The report is read at start beside the work: ending the run before it
            // is read would cancel it (a busy machine).
            try await eventually("the worker reported the unknown job") { reported() }
        }
        #expect(try await orphan.status() == .pending)
        #expect(reported())

        // A process that knows the job runs it.
        let knowing = try makeEngine(in: directory)
        knowing.register(Unknown())
        try await knowing.run { _ async throws -> Void in #expect(try await orphan.value == 1) }
    }

    @Test("with unknownJobPolicy .fail, a task of an unregistered job fails with an error naming the job")
    func unknownJobFails() async throws {
        struct Unknown: Job {
            static let name = "nobody-knows"
            func run(_ input: Int, context: TaskContext) async throws -> Int { input }
        }
        let directory = TemporaryDirectory()
        let engine = try makeEngine(in: directory) { $0.unknownJobPolicy = .fail }
        let task = try await engine.createTask(Unknown.self, 1)
        try await engine.run { _ in
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.kind == .unknownJob)
            #expect(error?.message.contains("nobody-knows") == true)
        }
    }

    @Test("input edited into invalid JSON fails that task with an error naming task, job and problem")
    func badJSONInput() async throws {
        let directory = TemporaryDirectory()
        let engine = try makeEngine(in: directory)
        let bad = try await engine.createTask(Doubler.self, 1)
        let wrongType = try await engine.createTask(Doubler.self, 2)
        let good = try await engine.createTask(Doubler.self, 3)
        try edit(directory.file("test.sqlite"), "UPDATE durable_tasks SET input = '{not json' WHERE id = ?", [bad.id.rawValue])
        try edit(directory.file("test.sqlite"), "UPDATE durable_tasks SET input = '\"two\"' WHERE id = ?", [wrongType.id.rawValue])
        try await engine.run { engine async throws -> Void in
            for task in [bad, wrongType] {
                let error = await #expect(throws: StoredError.self) { try await task.value }
                #expect(error?.kind == .undecodableInput)
                #expect(error?.message.contains("task \(task.id)") == true)
                #expect(error?.message.contains("job double") == true)
                #expect(error?.message.contains("does not decode") == true)
            }
            #expect(try await good.value == 6)
        }
        // The stored input is left as it was, for a person to look at.
        #expect(try await engine.record(of: bad.id).input == "{not json")
    }

    @Test("a status edited into an unknown value is reported with the task and the value, and other tasks run")
    func unknownStatus() async throws {
        let directory = TemporaryDirectory()
        let engine = try makeEngine(in: directory)
        let odd = try await engine.createTask(Doubler.self, 1)
        let good = try await engine.createTask(Doubler.self, 2)
        try edit(
            directory.file("test.sqlite"),
            "PRAGMA ignore_check_constraints = 1; UPDATE durable_tasks SET status = 'exploded' WHERE id = ?", [odd.id.rawValue])
        let error = await #expect(throws: DurableError.self) { try await engine.record(of: odd.id) }
        #expect(error?.code == .invalidRow)
        #expect(error?.message.contains("task \(odd.id)") == true)
        #expect(error?.message.contains("'exploded'") == true)
        #expect(try await engine.run { _ in try await good.value } == 4)
    }

    @Test("a context edited into something that is not a JSON object of strings fails the task clearly")
    func badContext() async throws {
        let directory = TemporaryDirectory()
        let engine = try makeEngine(in: directory)
        let task = try await engine.createTask(ReadContext.self, "x", context: ["a": "b"])
        try edit(directory.file("test.sqlite"), "UPDATE durable_tasks SET context = '[1, 2]' WHERE id = ?", [task.id.rawValue])
        try await engine.run { _ in
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("stored context") == true)
            #expect(error?.message.contains("task \(task.id)") == true)
        }
    }

    @Test("SchemaReport reads a newer file's migrations without refusing or changing it")
    func schemaReportOfNewerFile() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        _ = try makeEngine(in: directory)
        try edit(path, "INSERT INTO durable_migrations (version, name, applied_at) VALUES (9999, 'future', 0)")
        let report = try SchemaReport(path: path)
        #expect(report.applied.last?.version == 9999)
        #expect(report.latestKnownVersion < 9999)
    }

    @Test("an output that cannot be encoded fails the task with a clear error")
    func unencodableOutput() async throws {
        struct NotANumber: Job {
            static let name = "not-a-number"
            func run(_ input: Int, context: TaskContext) async throws -> Swift.Double { .nan }
        }
        let directory = TemporaryDirectory()
        let engine = try makeEngine(in: directory)
        engine.register(NotANumber())
        try await engine.run { engine in
            let task = try await engine.createTask(NotANumber.self, 1)
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.kind == .unencodableOutput)
            #expect(error?.message.contains("not-a-number") == true)
        }
    }

    @Test("a database from a newer schema is refused with an error naming the file, and left untouched")
    func newerSchema() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        do {
            let engine = try makeEngine(in: directory)
            _ = try await engine.createTasks(Doubler.self, inputs: [1, 2, 3])
        }
        try edit(path, "INSERT INTO durable_migrations (version, name, applied_at) VALUES (9999, 'future', 0)")
        let before = try contents(path)
        let error = openingError(in: directory)
        #expect(error?.code == .schemaTooNew)
        #expect(error?.message.contains(path) == true)
        #expect(error?.message.contains("9999") == true)
        #expect(try contents(path) == before)
        let count: Int? = try scalar(path, "SELECT count(*) FROM durable_tasks")
        #expect(count == 3)
    }

    @Test("a file that is not an SQLite database is refused and left untouched")
    func notSQLite() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        let text = Data(String(repeating: "these are my notes, not a database\n", count: 200).utf8)
        try text.write(to: URL(fileURLWithPath: path))
        let error = openingError(in: directory)
        #expect(error?.code == .corruptDatabase)
        #expect(error?.message.contains(path) == true)
        #expect(try contents(path) == text)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
    }

    @Test("another program's SQLite database is refused and not switched to WAL")
    func foreignDatabase() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        try edit(path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL); INSERT INTO invoices VALUES (1, 9.5)")
        let before = try contents(path)
        let error = openingError(in: directory)
        #expect(error?.code == .notADurableDatabase)
        #expect(try contents(path) == before)
        let mode: String? = try scalar(path, "PRAGMA journal_mode")
        #expect(mode == "delete")
    }

    @Test("a read-only database gives an error naming the file; its tasks are intact")
    func readOnlyDatabase() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        do {
            let engine = try makeEngine(in: directory)
            _ = try await engine.createTasks(Doubler.self, inputs: [1, 2])
        }
        // Fold the WAL into the file so that the file alone holds the tasks.
        try edit(path, "PRAGMA wal_checkpoint(TRUNCATE)")
        // Root ignores permission bits; the immutable attribute stops root too.
        try #require(runCommand("/usr/bin/chattr", ["+i", path]).status == 0, "chattr +i must work on the test folder's filesystem")
        defer { _ = runCommand("/usr/bin/chattr", ["-i", path]).status }
        do {
            let engine = try makeEngine(in: directory)
            _ = try await engine.createTask(Doubler.self, 3)
            Issue.record("writing to an immutable file must fail")
        } catch let error as DurableError {
            #expect([.readOnlyDatabase, .cannotOpen].contains(error.code))
            #expect(error.message.contains(path))
        }
        _ = runCommand("/usr/bin/chattr", ["-i", path]).status
        let count: Int? = try scalar(path, "SELECT count(*) FROM durable_tasks")
        #expect(count == 2)
    }

    @Test("several engines opening one new file at once apply the schema exactly once")
    func concurrentCreation() async throws {
        let directory = TemporaryDirectory()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask { _ = try makeEngine(in: directory) }
            }
            try await group.waitForAll()
        }
        let report = try SchemaReport(path: directory.file("test.sqlite"))
        #expect(report.applied.map(\.version) == report.known.map(\.version))
        #expect(report.pending.isEmpty)
    }

    @Test("SchemaReport on a missing file names it, and creates nothing")
    func missingFile() {
        let directory = TemporaryDirectory()
        let path = directory.file("absent.sqlite")
        let error = #expect(throws: DurableError.self) { try SchemaReport(path: path) }
        #expect(error?.message.contains(path) == true)
        #expect(!FileManager.default.fileExists(atPath: path))
    }
}
