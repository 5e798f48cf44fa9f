import DurableTestKit
import Durable
import Foundation
import Synchronization
import Testing

/// Steps asked for concurrently (`async let`, task groups), in another order on a
/// re-run, steps that return nothing, and what counts as a non-deterministic
/// replay. (StepCrashTests and ConcurrentStepCrashTests kill real processes.)
@Suite("Concurrent steps and replay")
struct ConcurrentStepTests {
    @Test("two steps started together with async let: on a first run each runs once, at a position of its own")
    func asyncLetFirstRun() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let tasks = try await engine.createTasks(AsyncLetSteps.self, inputs: Array(0..<40))
            #expect(try await engine.gather(tasks) == (0..<40).map { $0 + 1000 })
        }
        for n in 0..<40 {
            #expect(counter.count("\(n)/a") == 1)
            #expect(counter.count("\(n)/b") == 1)
        }
        let rows = try await StoreProbe.read(
            directory.file("test.sqlite"),
            """
            SELECT '0' || a.name || ',1' || b.name FROM task_steps AS a
            JOIN task_steps AS b ON b.task_id = a.task_id AND b.position = 1
            WHERE a.position = 0 AND (SELECT count(*) FROM task_steps AS c WHERE c.task_id = a.task_id) = 2
            """)
        #expect(rows.count == 40)
        #expect(Set(rows).isSubset(of: ["0a,1b", "0b,1a"]))
    }

    @Test("steps of a task group with random delays run once; a re-run replays every one of them")
    func taskGroupReplay() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let tasks = try await engine.createTasks(GroupOfSteps.self, inputs: Array(0..<20))
            #expect(try await engine.gather(tasks) == (0..<20).map { GroupOfSteps.result($0) })
            for task in tasks { #expect(try await engine.record(of: task.id).attempt == 2) }
        }
        for n in 0..<20 {
            for k in 0..<GroupOfSteps.width { #expect(counter.count("\(n)/g\(k)") == 1) }
        }
    }

    @Test("a re-run whose concurrent steps arrive in another order replays the stored ones and runs only the new ones")
    func reorderedRerun() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(ReorderedSteps.self, "r")
            #expect(try await task.value == 3)
            #expect(try await engine.record(of: task.id).attempt == 2)
        }
        // "fa" was stored by the first run and replayed; "fb" failed there and ran again.
        #expect(counter.count("fa") == 1)
        #expect(counter.count("fb") == 2)
        let order = try await StoreProbe.read(
            directory.file("test.sqlite"), "SELECT name || ':' || attempt FROM task_steps ORDER BY position")
        #expect(order == ["fa:1", "fb:2"])
    }

    @Test("a step that returns nothing runs once and is skipped on a re-run; a step's value keeps its type")
    func voidStep() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(WritesNothingBack.self, "rows")
            #expect(try await task.value == 5)
        }
        #expect(counter.count("write rows") == 1)
        #expect(counter.count("count rows") == 1)
        let stored = try await StoreProbe.read(
            directory.file("test.sqlite"), "SELECT name || '=' || result FROM task_steps ORDER BY position")
        #expect(stored == ["write=null", "count=4"])
    }

    @Test("a re-run that renames a step fails with NonDeterministicReplay when it returns, naming both steps")
    func renamedStep() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(RenamesAStep.self, "n")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.type == String(reflecting: NonDeterministicReplay.self))
            #expect(error?.message.contains("without asking for step \"b\", stored at position 1") == true)
            #expect(error?.message.contains("asked for step \"b2\", which that run did not") == true)
            #expect(try await engine.record(of: task.id).attempt == 2)
        }
        // The stored steps were replayed, not run again.
        #expect(counter.count("a") == 1)
        #expect(counter.count("b") == 1)
    }

    @Test("a renamed step stored by a run that then failed still fails the task on the next run, which asks for nothing new")
    func renamedThenRetried() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(RenamesThenFails.self, "n")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("without asking for step \"charge-v1\"") == true)
            #expect(error?.message.contains("asked for step \"charge-v2\" (stored by attempt 2)") == true)
            #expect(try await engine.record(of: task.id).attempt == 3)
        }
        #expect(counter.count("charge-v2") == 1)
    }

    @Test("a step of a repeated name that failed and was not stored does not take a later one's stored result")
    func repeatedNameWithAGap() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(ChargesEach.self, "A,B")
            #expect(try await task.value == "charged A, charged B")
        }
        // A's first charge failed (not stored) and ran again; B's was stored and replayed.
        #expect(counter.count("charge A") == 2)
        #expect(counter.count("charge B") == 1)
        let stored = try await StoreProbe.read(
            directory.file("test.sqlite"), "SELECT name || '#' || occurrence || '=' || result FROM task_steps ORDER BY position")
        #expect(stored == ["charge#1=\"charged B\"", "charge#0=\"charged A\""])
    }

    @Test("a re-run that adds a step, or no longer asks for one, is not an error")
    func addedAndRemovedSteps() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let added = try await engine.createTask(AddsOrDropsSteps.self, "add")
            #expect(try await added.value == "a+x+b")
            let dropped = try await engine.createTask(AddsOrDropsSteps.self, "drop")
            #expect(try await dropped.value == "a")
        }
        #expect(counter.count("add/a") == 1)
        #expect(counter.count("add/b") == 1)
        #expect(counter.count("add/x") == 1)
    }

    @Test("a stored step failure thrown again by a re-run is not retried, whatever the retry policy")
    func replayedFailureNotRetried() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(ReplaysItsFailure.self, "order")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message == "no such order")
            // Attempt 1 caught the failure and failed retryably; attempt 2 threw the
            // replayed failure and ended the task, with attempts left.
            #expect(try await engine.record(of: task.id).attempt == 2)
        }
        #expect(counter.count("validate") == 1)
    }

    @Test("a step asked for where a durable sleep was stored fails at once, without running its body")
    func stepWhereSleepWasStored() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeStepEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(SleepThenStep.self, "k")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("stored sleep \"pause\" at position 0") == true)
            #expect(error?.message.contains("asks for step \"pause\"") == true)
        }
        #expect(counter.count("pause body") == 0)
    }
}
