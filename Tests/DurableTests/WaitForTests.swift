import DurableTestKit
import Durable
import Testing

/// ASYNCIO.md §5: waitFor(task, timeout:), with a manual clock for the timeouts.
@Suite("waitFor")
struct WaitForTests {
    @Test("returns the result when the task finishes in time; nil timeout waits without limit (38, 39)")
    func finishesInTime() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let task = try await engine.createTask(Doubler.self, 5)
            #expect(try await engine.waitFor(task, timeout: .seconds(3600)) == 10)
            let other = try await engine.createTask(Doubler.self, 6)
            #expect(try await engine.waitFor(other, timeout: nil) == 12)
        }
    }

    @Test("on timeout the task is cancelled, and TimeoutError comes after the cancellation is stored (40, 41)")
    func timesOut() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory, gates: gates) { $0.clock = clock }
        try await engine.run { engine in
            let task = try await engine.createTask(WaitAtGate.self, "slow")
            await gates.waitForArrivals("slow")
            let sleepers = clock.sleeperCount
            let waiter = Task { try await engine.waitFor(task, timeout: .seconds(5)) }
            await waitForSleeper(on: clock, moreThan: sleepers)
            clock.advance(by: .seconds(5))
            let error = await #expect(throws: TimeoutError.self) { try await waiter.value }
            #expect(error?.taskID == task.id)
            // Stored before waitFor returned.
            #expect(try await task.cancelled())
            #expect(try await engine.record(of: task.id).cancelMessage?.contains("timed out") == true)
        }
    }

    @Test("timeout ≤ 0 returns a finished task's result at once (42)")
    func zeroTimeoutFinished() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let task = try await engine.createTask(Doubler.self, 7)
            _ = try await task.value
            #expect(try await engine.waitFor(task, timeout: .zero) == 14)
            #expect(try await engine.waitFor(task, timeout: .seconds(-1)) == 14)
        }
    }

    @Test("timeout ≤ 0 on a task not yet started: TimeoutError, and it never starts (43)")
    func zeroTimeoutPending() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter)
        let task = try await engine.createTask(Echo.self, "never")
        await #expect(throws: TimeoutError.self) { try await engine.waitFor(task, timeout: .zero) }
        try await engine.run { engine in
            _ = try await engine.createTask(Echo.self, "marker").value
        }
        #expect(counter.count("never") == 0)
        #expect(try await task.cancelled())
    }

    @Test("timeout 0 on a running task cancels it and raises TimeoutError (44)")
    func zeroTimeoutRunning() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let task = try await engine.createTask(WaitAtGate.self, "running")
            await gates.waitForArrivals("running")
            await #expect(throws: TimeoutError.self) { try await engine.waitFor(task, timeout: .zero) }
            #expect(try await task.cancelled())
        }
    }

    @Test("a task that ignores the cancellation and returns gives its value, not TimeoutError (46)")
    func cancellationIgnored() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let task = try await engine.createTask(IgnoreCancel.self, "stubborn")
            await gates.waitForArrivals("stubborn")
            #expect(try await engine.waitFor(task, timeout: .zero) == "ignored")
        }
    }

    @Test("cancelling the caller of waitFor cancels the task too, and waits for it to end (47, 48)")
    func callerCancelled() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let task = try await engine.createTask(WaitAtGate.self, "inner")
            await gates.waitForArrivals("inner")
            let caller = Task { try await engine.waitFor(task, timeout: nil) }
            caller.cancel()
            await #expect(throws: CancellationError.self) { try await caller.value }
            #expect(try await task.cancelled())
        }
    }
}

/// Waits until one more task sleeps on the manual clock than `moreThan` (a
/// timeout armed); the worker's own timers also sleep on it.
func waitForSleeper(on clock: ManualClock, moreThan count: Int) async {
    while clock.sleeperCount <= count { await Task.yield() }
}
