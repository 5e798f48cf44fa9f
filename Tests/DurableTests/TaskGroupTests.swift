import DurableTestKit
import Durable
import Testing

/// ASYNCIO.md §9: task groups, stored.
@Suite("Task groups")
struct TaskGroupTests {
    @Test("exit waits for every child; children can be added after awaits (79)")
    func waitsForChildren() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let tasks = try await engine.withTaskGroup(name: "g") { group in
                let first = try await group.createTask(Doubler.self, 1)
                _ = try await first.value
                let second = try await group.createTask(WaitAtGate.self, "late")
                gates.open("late")
                return (first, second)
            }
            #expect(try await tasks.0.done())
            #expect(try await tasks.1.done())
        }
    }

    @Test("cancelling one child does not fail the group (80)")
    func cancelOneChild() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let result = try await engine.withTaskGroup { group in
                let doomed = try await group.createTask(WaitAtGate.self, "doomed")
                let fine = try await group.createTask(Doubler.self, 4)
                _ = try await doomed.cancel()
                return try await fine.value
            }
            #expect(result == 8)
        }
    }

    @Test("a child failure cancels its siblings in the same commit, interrupts the body, and throws TaskGroupError (81)")
    func childFailure() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let reachedEnd = AsyncCounter()
            let error = await #expect(throws: TaskGroupError.self) {
                try await engine.withTaskGroup(name: "batch") { group in
                    _ = try await group.createTask(WaitAtGate.self, "sibling")
                    _ = try await group.createTask(GateThenFail.self, "boom")
                    await gates.waitForArrivals("sibling")
                    gates.open("boom")
                    try await gates.pass("body-never-opens")
                    reachedEnd.increment()
                }
            }
            #expect(error?.childErrors.map(\.error.message) == ["test failure: boom"])
            #expect(error?.bodyError == nil)
            let sibling = try await engine.record(of: 1)
            #expect(sibling.status == .cancelled)
            #expect(sibling.cancelMessage?.contains("task 2 failed") == true)
            // The failure and the cancel request were stored in one transaction.
            let failed = try await engine.record(of: 2)
            #expect(sibling.cancelRequestedAt == failed.finishedAt)
        }
    }

    @Test("once a child failed, createTask on the group is refused (88)")
    func noCreateAfterFailure() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let error = await #expect(throws: TaskGroupError.self) {
                try await engine.withTaskGroup { group in
                    let failing = try await group.createTask(Fail.self, "x")
                    _ = try? await failing.value
                    do {
                        _ = try await group.createTask(Doubler.self, 1)
                        Issue.record("createTask after a failure must throw")
                    } catch let error as DurableError {
                        #expect(error.code == .groupNotOpen)
                    }
                }
            }
            #expect(error?.childErrors.count == 1)
        }
    }

    @Test("if the body throws, the children are cancelled and the error is grouped (82)")
    func bodyThrows() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine async throws -> Void in
            let error = await #expect(throws: TaskGroupError.self) {
                try await engine.withTaskGroup { group async throws -> Void in
                    _ = try await group.createTask(WaitAtGate.self, "child")
                    await gates.waitForArrivals("child")
                    throw TestFailure(reason: "body")
                }
            }
            #expect((error?.bodyError as? TestFailure)?.reason == "body")
            #expect(error?.childErrors.isEmpty == true)
            #expect(try await engine.record(of: 1).status == .cancelled)
        }
    }

    @Test("cancelling the caller cancels every child, and the group ends with CancellationError (84)")
    func callerCancelled() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine async throws -> Void in
            let caller = Task {
                try await engine.withTaskGroup { group in
                    _ = try await group.createTask(WaitAtGate.self, "a")
                    _ = try await group.createTask(WaitAtGate.self, "b")
                    try await gates.pass("never")
                }
            }
            await gates.waitForArrivals("a")
            await gates.waitForArrivals("b")
            caller.cancel()
            await #expect(throws: CancellationError.self) { try await caller.value }
            #expect(try await engine.record(of: 1).status == .cancelled)
            #expect(try await engine.record(of: 2).status == .cancelled)
        }
    }

    @Test("a failure in an inner group reaches the outer group as a nested group error (87)")
    func nestedGroups() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let error = await #expect(throws: TaskGroupError.self) {
                try await engine.withTaskGroup(name: "outer") { _ in
                    try await engine.withTaskGroup(name: "inner") { inner in
                        _ = try await inner.createTask(Fail.self, "deep")
                    }
                }
            }
            let inner = error?.bodyError as? TaskGroupError
            #expect(inner?.groupName == "inner")
            #expect(inner?.childErrors.first?.error.message == "test failure: deep")
        }
    }

    @Test("after exit, createTask on the group is refused (89)")
    func finishedGroup() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let group = try await engine.withTaskGroup { group in group }
            let error = await #expect(throws: DurableError.self) { try await group.createTask(Doubler.self, 1) }
            #expect(error?.code == .groupNotOpen)
        }
    }

    @Test("a keyed group re-entered after a restart re-attaches to its children instead of creating them again")
    func keyedReentry() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let first = try await makeTestEngine(in: directory, counter: counter)
        let firstIDs = try await first.run { engine in
            try await engine.withTaskGroup(name: "import", key: "import-1") { group in
                var ids: [TaskID] = []
                for name in ["a", "b"] { ids.append(try await group.createTask(Echo.self, name).id) }
                return ids
            }
        }
        let second = try await makeTestEngine(in: directory, counter: counter)
        let secondIDs = try await second.run { engine in
            try await engine.withTaskGroup(name: "import", key: "import-1") { group in
                var ids: [TaskID] = []
                for name in ["a", "b"] { ids.append(try await group.createTask(Echo.self, name).id) }
                return ids
            }
        }
        #expect(firstIDs == secondIDs)
        #expect(counter.total == 2)
    }

    @Test("a body that gathers its children reports a failing child's error once, as a child error")
    func gatheringBodyReportsOnce() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            for _ in 0..<5 {
                let error = await #expect(throws: TaskGroupError.self) {
                    try await engine.withTaskGroup { group in
                        let ok = try await group.createTask(Echo.self, "fine")
                        let bad = try await group.createTask(Fail.self, "boom")
                        return try await engine.gather([ok, bad])
                    }
                }
                #expect(error?.bodyError == nil)
                #expect(error?.childErrors.map(\.error.message) == ["test failure: boom"])
            }
        }
    }

    // 83, 85, 86, 90-93 are about Python's KeyboardInterrupt/BaseException
    // groups, entering a group twice and the cancelling() counter; Swift's scoped
    // closure makes a group impossible to enter twice or use before entry, and
    // Swift has no cancel counter.
}
