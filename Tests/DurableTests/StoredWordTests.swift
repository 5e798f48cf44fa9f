import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import GRDB
import Testing

/// Stored words (statuses, outcomes, kinds, states) are enums; a value none of
/// them knows (forced past the CHECK constraints) is reported with its row,
/// never mapped to another word.
@Suite("Stored words")
struct StoredWordTests {
    private func force(_ path: String, _ sql: String) throws {
        let queue = try DatabaseQueue(path: path)
        try queue.writeWithoutTransaction { try $0.execute(sql: "PRAGMA ignore_check_constraints = 1; " + sql) }
        try queue.close()
    }

    @Test("attempt outcomes and step kinds read back as their enums")
    func typedRecords() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter)
        let task = try await engine.createTask(Flaky.self, "w:1", options: TaskOptions(retry: .exponentialJitter(
            maxAttempts: 2, initialDelay: .zero, jitter: 0)))
        let stepped = try await engine.createTask(ThreeSteps.self, "s")
        try await engine.run { _ in
            _ = try await task.value
            _ = try await stepped.value
        }
        #expect(try await engine.attempts(of: task.id).map(\.outcome) == [.failed, .succeeded])
        #expect(try await engine.steps(of: stepped.id).map(\.kind).allSatisfy { $0 == .step })
        #expect(try await !engine.steps(of: stepped.id).isEmpty)
    }

    @Test("an unknown attempt outcome is reported naming the attempt, the task and the value", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func unknownOutcome() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Doubler.self, 1)
        try await engine.run { _ in _ = try await task.value }
        try force(directory.file("test.sqlite"), "UPDATE durable_task_attempts SET outcome = 'vanished'")
        let error = await #expect(throws: DurableError.self) { try await engine.attempts(of: task.id) }
        #expect(error?.code == .invalidRow)
        #expect(error?.message.contains("attempt 1 of task \(task.id)") == true)
        #expect(error?.message.contains("'vanished'") == true)
    }

    @Test("an unknown step kind is reported, never read as a step", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func unknownStepKind() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(ThreeSteps.self, "k")
        try await engine.run { _ in _ = try? await task.value }
        try force(directory.file("test.sqlite"), "UPDATE durable_task_steps SET kind = 'nap'")
        let error = await #expect(throws: DurableError.self) { try await engine.steps(of: task.id) }
        #expect(error?.code == .invalidRow)
        #expect(error?.message.contains("'nap'") == true)
    }

    @Test("an unknown group state is reported, never read as finished", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func unknownGroupState() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let group = try await engine.store.createGroup(name: "g", key: nil, now: 1)
        try force(directory.file("test.sqlite"), "UPDATE durable_task_groups SET state = 'melted'")
        let error = await #expect(throws: DurableError.self) { try await engine.store.group(group.id) }
        #expect(error?.code == .invalidRow)
        #expect(error?.message.contains("task group \(group.id.rawValue)") == true)
        #expect(error?.message.contains("'melted'") == true)
    }

    @Test("statistics report an unknown task status instead of leaving the task out", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func statisticsWithUnknownStatus() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        _ = try await engine.createTasks(Doubler.self, inputs: [1, 2])
        try force(directory.file("test.sqlite"), "UPDATE durable_tasks SET status = 'exploded' WHERE id = 2")
        let error = await #expect(throws: DurableError.self) { try await engine.statistics() }
        #expect(error?.code == .invalidRow)
        #expect(error?.message.contains("job double") == true)
    }
}
