import DurableTestKit
import Durable
import Synchronization
import Testing

/// ASYNCIO.md §4: done callbacks, durable (jobs) and in-process (closures).
@Suite("Done callbacks")
struct DoneCallbackTests {
    /// Waits until the callback log has `count` entries, by awaiting the callback tasks.
    private func callbackTasks(of engine: TaskEngine, for task: TaskID) async throws -> [DurableTask<String>] {
        var tasks: [DurableTask<String>] = []
        var id = task.rawValue + 1
        while let record = try? await engine.record(of: TaskID(id)) {
            if record.callbackOf == task { tasks.append(try await engine.task(id: record.id, as: RecordCallback.self)) }
            id += 1
        }
        return tasks
    }

    @Test("durable callbacks run once each after success, failure or cancel, in the order added (34)")
    func callbacksRunInOrder() async throws {
        let directory = TemporaryDirectory()
        let log = CallbackLog()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates, log: log)
        try await engine.run { engine in
            let ok = try await engine.createTask(WaitAtGate.self, "ok")
            let bad = try await engine.createTask(GateThenFail.self, "bad")
            let cancelled = try await engine.createTask(WaitAtGate.self, "never")
            for task in [ok, cancelled] {
                try await task.addDoneCallback(RecordCallback.self, "first")
                try await task.addDoneCallback(RecordCallback.self, "second")
            }
            try await bad.addDoneCallback(RecordCallback.self, "on-failure")
            #expect(log.all.isEmpty)
            gates.open("ok")
            gates.open("bad")
            _ = try await ok.value
            _ = try? await bad.value
            _ = try await cancelled.cancel()
            // A running task ends when its run sees the request: its callbacks exist then.
            _ = try? await cancelled.value
            for task in [ok.id, bad.id, cancelled.id] {
                let callbacks = try await callbackTasks(of: engine, for: task)
                _ = try await engine.gather(callbacks)
            }
        }
        let entries = log.all
        // Both run (concurrently: two slots, so in either order) ...
        #expect(entries.filter { $0.hasSuffix(":1") }.sorted() == ["first:1", "second:1"])
        #expect(entries.filter { $0.hasSuffix(":2") } == ["on-failure:2"])
        #expect(entries.filter { $0.hasSuffix(":3") }.sorted() == ["first:3", "second:3"])
        #expect(entries.count == 5)
        // ... and their tasks were created in the order the callbacks were added.
        var inputsByID: [(TaskID, String)] = []
        for task in try await callbackTasks(of: engine, for: 1) {
            inputsByID.append((task.id, try await engine.record(of: task.id).input))
        }
        #expect(inputsByID.sorted { $0.0 < $1.0 }.map(\.1) == ["\"first\"", "\"second\""])
    }

    @Test("a callback added to a finished task runs at once")
    func addedAfterDone() async throws {
        let directory = TemporaryDirectory()
        let log = CallbackLog()
        let engine = try await makeTestEngine(in: directory, log: log)
        try await engine.run { engine in
            let task = try await engine.createTask(Doubler.self, 2)
            _ = try await task.value
            try await task.addDoneCallback(RecordCallback.self, "late")
            _ = try await engine.gather(try await callbackTasks(of: engine, for: task.id))
        }
        #expect(log.all == ["late:1"])
    }

    @Test("removeDoneCallback removes every registration of the job and returns how many (35, 36)")
    func removeCallbacks() async throws {
        let directory = TemporaryDirectory()
        let log = CallbackLog()
        let engine = try await makeTestEngine(in: directory, log: log)
        let task = try await engine.createTask(Doubler.self, 2)
        try await task.addDoneCallback(RecordCallback.self, "a")
        try await task.addDoneCallback(Echo.self, "kept")
        try await task.addDoneCallback(RecordCallback.self, "b")
        #expect(try await task.removeDoneCallback(RecordCallback.self) == 2)
        #expect(try await task.removeDoneCallback(RecordCallback.self) == 0)
        try await engine.run { engine in
            _ = try await task.value
            var id = task.id.rawValue + 1
            var echoes: [DurableTask<String>] = []
            while let record = try? await engine.record(of: TaskID(id)) {
                if record.callbackOf == task.id { echoes.append(try await engine.task(id: record.id, as: Echo.self)) }
                id += 1
            }
            #expect(try await engine.gather(echoes) == ["kept"])
        }
        #expect(log.all.isEmpty)
    }

    @Test("a durable callback is created in the same commit as the completion")
    func callbackCreatedWithCompletion() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Doubler.self, 2)
        try await task.addDoneCallback(Echo.self, "cb")
        // Cancelling the pending task is a completion: the callback task exists at once.
        _ = try await task.cancel()
        let callback = try await engine.record(of: TaskID(task.id.rawValue + 1))
        #expect(callback.callbackOf == task.id)
        #expect(callback.job == Echo.name)
        #expect(callback.status == .pending)
    }

    @Test("onDone closures run in this process in the order added, also for a finished task")
    func onDoneClosures() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let order = Mutex<[String]>([])
        try await engine.run { engine in
            let task = try await engine.createTask(Doubler.self, 3)
            let done = AsyncCounter()
            task.onDone { _ in order.withLock { $0.append("one") }; done.increment() }
            task.onDone { finished in
                let value = (try? await finished.result()) ?? -1
                order.withLock { $0.append("two:\(value)") }
                done.increment()
            }
            await done.wait(for: 2)
            task.onDone { _ in order.withLock { $0.append("three") }; done.increment() }
            await done.wait(for: 3)
        }
        #expect(order.withLock { $0 } == ["one", "two:6", "three"])
    }
}

/// Counts events; lets a test wait for a number of them.
final class AsyncCounter: Sendable {
    private let state = Mutex<(count: Int, waiters: [(Int, CheckedContinuation<Void, Never>)])>((0, []))

    func increment() {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.count += 1
            let count = state.count
            let ready = state.waiters.filter { $0.0 <= count }.map(\.1)
            state.waiters.removeAll { $0.0 <= count }
            return ready
        }
        for continuation in ready { continuation.resume() }
    }

    func wait(for target: Int) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.count >= target { return true }
                state.waiters.append((target, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }
}
