import DurableTestKit
import Durable
import Testing

/// ASYNCIO.md §6: wait(tasks, timeout:, returnWhen:).
@Suite("wait")
struct WaitTests {
    @Test("allCompleted returns when every task is done; again at once on done tasks (51)")
    func allCompleted() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let tasks = try await engine.createTasks(Doubler.self, inputs: [1, 2, 3])
            let (done, pending) = try await engine.wait(tasks)
            #expect(done == Set(tasks))
            #expect(pending.isEmpty)
            let again = try await engine.wait(tasks)
            #expect(again.done == Set(tasks))
        }
    }

    @Test("firstCompleted returns when one finishes; the others stay pending and not cancelled (52)")
    func firstCompleted() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let slow = try await engine.createTask(WaitAtGate.self, "slow")
            let fast = try await engine.createTask(WaitAtGate.self, "fast")
            await gates.waitForArrivals("slow")
            gates.open("fast")
            let (done, pending) = try await engine.wait([slow, fast], returnWhen: .firstCompleted)
            #expect(done == [fast])
            #expect(pending == [slow])
            #expect(try await !slow.cancelled())
            // Not cancelled: still pending or running (the worker may not have
            // claimed it yet; on PostgreSQL that takes a round trip more).
            #expect([.pending, .running].contains(try await slow.status()))
            gates.open("slow")
            #expect(try await slow.value == "slow")
        }
    }

    @Test("firstCompleted puts every task already finished into done (53)")
    func reallyDone() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let a = try await engine.createTask(Echo.self, "a")
            let b = try await engine.createTask(Echo.self, "b")
            let c = try await engine.createTask(WaitAtGate.self, "c")
            _ = try await engine.gather([a, b])
            let (done, pending) = try await engine.wait([a, b, c], returnWhen: .firstCompleted)
            #expect(done == [a, b])
            #expect(pending == [c])
            gates.open("c")
        }
    }

    @Test("firstException returns at a failure; a cancelled task does not count; else like allCompleted (54, 55)")
    func firstException() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let failing = try await engine.createTask(GateThenFail.self, "boom")
            let waiting = try await engine.createTask(GateThenFail.self, "later")
            let cancelled = try await engine.createTask(GateThenFail.self, "cancelled")
            _ = try await cancelled.cancel()
            gates.open("boom")
            let (done, pending) = try await engine.wait([failing, waiting, cancelled], returnWhen: .firstException)
            #expect(done == [failing, cancelled])
            #expect(pending == [waiting])
            #expect(try await failing.exception() is StoredError)

            let ok = try await engine.createTasks(Doubler.self, inputs: [1, 2])
            let allDone = try await engine.wait(ok, returnWhen: .firstException)
            #expect(allDone.done == Set(ok))
            gates.open("later")
        }
    }

    @Test("with a timeout, wait returns what is done and does not cancel the rest (56)")
    func timeout() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory, gates: gates) { $0.clock = clock }
        try await engine.run { engine in
            let quick = try await engine.createTask(Echo.self, "quick")
            let slow = try await engine.createTask(WaitAtGate.self, "slow")
            _ = try await quick.value
            let sleepers = clock.sleeperCount
            let waiter = Task { try await engine.wait([quick, slow], timeout: .seconds(10)) }
            await waitForSleeper(on: clock, moreThan: sleepers)
            clock.advance(by: .seconds(10))
            let (done, pending) = try await waiter.value
            #expect(done == [quick])
            #expect(pending == [slow])
            // Not cancelled: still pending or running (the worker may not have
            // claimed it yet; on PostgreSQL that takes a round trip more).
            #expect([.pending, .running].contains(try await slow.status()))
            gates.open("slow")
            #expect(try await slow.value == "slow")
        }
    }

    @Test("an empty list is an invalid argument (57)")
    func emptyIsError() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let error = await #expect(throws: DurableError.self) {
            try await engine.wait([DurableTask<Int>]())
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test("a task listed twice appears once (59)")
    func duplicates() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let task = try await engine.createTask(Doubler.self, 1)
            let (done, _) = try await engine.wait([task, task, task])
            #expect(done.count == 1)
        }
    }

    @Test("cancelling the waiter does not cancel the tasks it waited on (60)")
    func waiterCancelled() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let task = try await engine.createTask(WaitAtGate.self, "keep")
            await gates.waitForArrivals("keep")
            let waiter = Task { try await engine.wait([task]) }
            waiter.cancel()
            await #expect(throws: CancellationError.self) { try await waiter.value }
            #expect(try await !task.cancelled())
            gates.open("keep")
            #expect(try await task.value == "keep")
        }
    }
}
