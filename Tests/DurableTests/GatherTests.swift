import DurableTestKit
import Durable
import Testing

/// ASYNCIO.md §7: gather and gatherResults.
@Suite("gather")
struct GatherTests {
    @Test("results come in argument order, whatever order the tasks finish in (61)")
    func argumentOrder() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let tasks = try await engine.createTasks(WaitAtGate.self, inputs: ["a", "b", "c"])
            async let gathered = engine.gather(tasks)
            await gates.waitForArrivals("c")
            gates.open("c")
            _ = try await tasks[2].value
            gates.open("a")
            _ = try await tasks[0].value
            gates.open("b")
            #expect(try await gathered == ["a", "b", "c"])
        }
    }

    @Test("gather of nothing is an empty list (62)")
    func empty() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        #expect(try await engine.gather([DurableTask<Int>]()).isEmpty)
        #expect(try await engine.gatherResults([DurableTask<Int>]()).isEmpty)
    }

    @Test("the first failure is thrown at once; the other tasks keep running and store results (63)")
    func firstFailure() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let failing = try await engine.createTask(GateThenFail.self, "boom")
            let other = try await engine.createTask(GateThenFail.self, "later")
            gates.open("boom")
            let error = await #expect(throws: StoredError.self) { try await engine.gather([failing, other]) }
            #expect(error?.message == "test failure: boom")
            #expect(try await other.status() != .cancelled)
            gates.open("later")
            _ = try? await other.value
            #expect(try await other.status() == .failed)
        }
    }

    @Test("gatherResults puts each error at its position and waits for all (64, 66)")
    func resultsWithErrors() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        // Cancelled before any worker runs: it must never start.
        let cancelled = try await engine.createTask(Echo.self, "cancelled")
        _ = try await cancelled.cancel(message: "skip")
        try await engine.run { engine in
            let ok = try await engine.createTask(Echo.self, "fine")
            let bad = try await engine.createTask(Fail.self, "bad")
            let results = try await engine.gatherResults([ok, bad, cancelled])
            #expect(try results[0].get() == "fine")
            #expect(throws: StoredError.self) { try results[1].get() }
            #expect(throws: CancelledError.self) { try results[2].get() }
        }
    }

    @Test("a cancelled task makes gather throw CancelledError (65)")
    func cancelledChild() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Echo.self, "x")
        _ = try await task.cancel(message: "no")
        let error = await #expect(throws: CancelledError.self) { try await engine.gather([task]) }
        #expect(error?.message == "no")
    }

    @Test("cancelling the gathering caller stores cancel requests for every unfinished task (67, 68)")
    func callerCancelled() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let done = try await engine.createTask(Echo.self, "done")
            _ = try await done.value
            let running = try await engine.createTask(WaitAtGate.self, "running")
            await gates.waitForArrivals("running")
            let caller = Task { try await engine.gather([done, running]) }
            caller.cancel()
            await #expect(throws: CancellationError.self) { try await caller.value }
            await #expect(throws: CancelledError.self) { try await running.value }
            #expect(try await done.status() == .succeeded)
        }
    }

    @Test("a task passed more than once runs once; its result repeats at each position (70)")
    func duplicates() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter)
        try await engine.run { engine in
            let abc = try await engine.createTask(Echo.self, "abc")
            let def = try await engine.createTask(Echo.self, "def")
            #expect(try await engine.gather([abc, abc, def, abc]) == ["abc", "abc", "def", "abc"])
        }
        #expect(counter.count("abc") == 1)
    }

    @Test("the parameter-pack form returns a typed tuple")
    func parameterPack() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let number = try await engine.createTask(Doubler.self, 21)
            let text = try await engine.createTask(Echo.self, "hi")
            let (n, s) = try await engine.gather(number, text)
            #expect(n == 42)
            #expect(s == "hi")
        }
    }

    @Test("results stored before a restart are returned, not recomputed")
    func answeredFromStore() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let ids: [TaskID]
        do {
            let engine = try await makeTestEngine(in: directory, counter: counter)
            ids = try await engine.run { engine in
                let tasks = try await engine.createTasks(Echo.self, inputs: ["x", "y"])
                _ = try await engine.gather(tasks)
                return tasks.map(\.id)
            }
        }
        let restarted = try await makeTestEngine(in: directory, counter: counter)
        try await restarted.run { engine in
            let tasks = try await ids.asyncMap { try await engine.task(id: $0, as: Echo.self) }
            #expect(try await engine.gather(tasks) == ["x", "y"])
            #expect(try await engine.waitFor(tasks[0], timeout: .zero) == "x")
            let (done, _) = try await engine.wait(tasks)
            #expect(done.count == 2)
        }
        #expect(counter.total == 2)
    }

    // 69, 71, 72 (gather as a cancellable future, shield) have no counterpart:
    // gather here is an async function, not a future object.
}

extension Array {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var result: [T] = []
        for element in self { result.append(try await transform(element)) }
        return result
    }
}
