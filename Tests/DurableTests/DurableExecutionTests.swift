import DurableTestKit
import Durable
import Foundation
import Testing

/// Steps, durable sleep, child tasks and cascading cancellation inside jobs
/// (in one process; StepCrashTests kill real processes).
@Suite("Durable execution inside jobs")
struct DurableExecutionTests {
    @Test("a re-run replays finished steps without running them again")
    func stepsReplay() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(ThreeSteps.self, "t")
            #expect(try await task.value == "ABC")
        }
        #expect(counter.count("t/a") == 1)
        #expect(counter.count("t/b") == 2)
        #expect(counter.count("t/c") == 1)
        let steps = try await StoreProbe.read(
            directory.file("test.sqlite"), "SELECT position || ':' || name || ':' || attempt FROM task_steps ORDER BY position")
        #expect(steps == ["0:a:1", "1:b:2", "2:c:2"])
    }

    @Test("a re-run that asks for another step than the one stored fails with a non-deterministic replay error")
    func replayMismatch() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(ChangesItsSteps.self, "m")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("non-deterministic replay") == true)
            #expect(error?.message.contains("step \"a\"") == true)
            #expect(error?.message.contains("step \"x\"") == true)
            // Not retried: it failed on its second attempt, with attempts left.
            #expect(try await engine.record(of: task.id).attempt == 2)
        }
    }

    @Test("a step that failed for good fails the same way on a re-run, without running again")
    func storedFailureReplays() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter)
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(StoredStepFailure.self, "bad")
            #expect(try await task.value.contains("invalid input bad"))
        }
        #expect(counter.count("check") == 1)
    }

    @Test("a long durable sleep frees the slot and resumes at its wake-up time without re-running earlier steps")
    func longSleepSuspends() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter) { $0.clock = clock }
        try await engine.run { engine async throws -> Void in
            let start = clock.now()
            let task = try await engine.createTask(SleepBetween.self, "s")
            try await eventually("the task suspends") {
                let record = try await engine.record(of: task.id)
                return record.status == .pending && record.attempt == 1
            }
            let record = try await engine.record(of: task.id)
            #expect(record.runAt == start + 3_600_000)
            #expect(counter.count("before") == 1)
            try await eventually("the wake-up timer is armed") { clock.sleeperCount >= 3 }
            clock.advance(by: .seconds(3600))
            #expect(try await task.value == "ba")
            #expect(counter.count("before") == 1)
            #expect(counter.count("after") == 1)
        }
        let attempts = try await StoreProbe.read(
            directory.file("test.sqlite"), "SELECT outcome FROM task_attempts ORDER BY attempt")
        #expect(attempts == ["suspended", "succeeded"])
    }

    @Test("a re-run parent re-attaches to the children it created; children inherit its context")
    func childrenCreatedOnce() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine async throws -> Void in
            let parent = try await engine.createTask(ParentOfTwo.self, "p", context: ["tenant": "acme"])
            #expect(try await parent.value == ["p-1", "acme"])
            let children = try await StoreProbe.read(
                directory.file("test.sqlite"), "SELECT job FROM tasks WHERE parent_id = \(parent.id) ORDER BY id")
            #expect(children == ["echo", "read-context"])
        }
    }

    @Test("a parent awaiting its children gives up its slot: one slot runs a whole family")
    func awaitingFreesTheSlot() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory) { $0.maxConcurrentTasks = 1 }
        try await engine.run { engine async throws -> Void in
            let parents = try await engine.createTasks(
                ParentOfTwo.self, [TaskRequest("a", context: ["tenant": "t"]), TaskRequest("b", context: ["tenant": "t"])])
            #expect(try await engine.gather(parents) == [["a-1", "t"], ["b-1", "t"]])
        }
    }

    @Test("cancelling the root of a three-level tree cancels every level in one transaction; detached children keep running")
    func cascadingCancel() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine async throws -> Void in
            let root = try await engine.createTask(Tree.self, "r+detached")
            await gates.waitForArrivals("r+detached/child/grandchild")
            await gates.waitForArrivals("r+detached/detached")
            #expect(try await root.cancel(message: "stop the tree"))
            await #expect(throws: CancelledError.self) { try await root.value }
            let path = directory.file("test.sqlite")
            let tree = "job = 'tree' ORDER BY id"
            // Root, child and grandchild got their cancel request in one transaction.
            let times = try await StoreProbe.read(path, "SELECT coalesce(CAST(cancel_requested_at AS TEXT), 'none') FROM tasks WHERE \(tree)")
            #expect(times.count == 3)
            #expect(Set(times).count == 1 && times.first != "none")
            for input in ["r+detached", "r+detached/child", "r+detached/child/grandchild"] {
                try await eventually("\(input) ends cancelled") {
                    try await StoreProbe.read(path, "SELECT status FROM tasks WHERE input = '\"\(input)\"'") == ["cancelled"]
                }
            }
            let messages = try await StoreProbe.read(path, "SELECT cancel_message FROM tasks WHERE \(tree)")
            #expect(messages == ["stop the tree", "parent task 1 was cancelled: stop the tree",
                                 "parent task 2 was cancelled: parent task 1 was cancelled: stop the tree"])
            // The detached child was not cancelled and finishes.
            let detached = try #require(
                try await StoreProbe.read(path, "SELECT id FROM tasks WHERE job = 'wait-at-gate'").first.flatMap { Int64($0) })
            #expect(try await engine.record(of: TaskID(detached)).status == .running)
            gates.open("r+detached/detached")
            #expect(try await engine.task(id: TaskID(detached), as: WaitAtGate.self).value == "r+detached/detached")
        }
    }

    @Test("a child inherits its parent's deadline")
    func childInheritsDeadline() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine async throws -> Void in
            let deadline = Date(timeIntervalSinceNow: 3600)
            let root = try await engine.createTask(Tree.self, "d", options: TaskOptions(deadline: deadline))
            await gates.waitForArrivals("d/child/grandchild")
            let child = try await engine.record(of: 2)
            #expect(child.parentID == root.id)
            #expect(child.deadline == deadline.timeIntervalSince1970Milliseconds)
            for gate in ["d", "d/child", "d/child/grandchild"] { gates.open(gate) }
            #expect(try await root.value == "d/child/grandchild")
        }
    }
}

extension Date {
    var timeIntervalSince1970Milliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}
