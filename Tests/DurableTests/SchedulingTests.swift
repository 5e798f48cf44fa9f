import DurableTestKit
import Durable
import Foundation
import Testing

/// Delays, retries with backoff, timeouts and deadlines, driven by
/// a manual clock: every wait here is clock time, never real time.
@Suite("Scheduling: delays, retries, timeouts, deadlines")
struct SchedulingTests {
    /// Whether the task waits for its next attempt after `attempt` runs.
    private func isPending(_ id: TaskID, afterAttempt attempt: Int, in engine: TaskEngine) async throws -> Bool {
        let record = try await engine.record(of: id)
        return record.status == .pending && record.attempt == attempt
    }

    /// Waits until `count` tasks sleep on the clock (the worker's heartbeat and
    /// recovery loops, plus any due timer or timeout).
    private func sleepers(_ clock: ManualClock, atLeast count: Int) async throws {
        try await eventually("\(count) timers armed") { clock.sleeperCount >= count }
    }

    @Test("a delayed task does not start before its time, and starts when it comes")
    func delay() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter) { $0.clock = clock }
        try await engine.run { engine in
            let created = clock.now()
            let task = try await engine.createTask(Echo.self, "later", options: TaskOptions(delay: .seconds(60)))
            #expect(try await engine.record(of: task.id).runAt == created + 60_000)
            try await sleepers(clock, atLeast: 3)
            #expect(counter.count("later") == 0)
            #expect(try await task.status() == .pending)
            clock.advance(by: .seconds(60))
            #expect(try await task.value == "later")
        }
    }

    @Test("a failing task is retried with exponential backoff; each attempt is a row; the last error is kept")
    func retriesWithBackoff() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter) { $0.clock = clock }
        let policy = RetryPolicy.exponentialJitter(maxAttempts: 4, initialDelay: .seconds(10), jitter: 0)
        try await engine.run { engine in
            let task = try await engine.createTask(Flaky.self, "f:2", options: TaskOptions(retry: policy))
            // First failure: pending again, due 10 s later, with the error stored.
            try await eventually("first failure stored") { try await isPending(task.id, afterAttempt: 1, in: engine) }
            var record = try await engine.record(of: task.id)
            let firstFailure = clock.now()
            #expect(record.runAt == firstFailure + 10_000)
            #expect(record.error?.message == "test failure: f:2 run 1")
            try await sleepers(clock, atLeast: 3)
            clock.advance(by: .seconds(10))
            // Second failure: the wait doubles.
            try await eventually("second failure stored") { try await isPending(task.id, afterAttempt: 2, in: engine) }
            record = try await engine.record(of: task.id)
            #expect(record.runAt == clock.now() + 20_000)
            #expect(record.error?.message == "test failure: f:2 run 2")
            try await sleepers(clock, atLeast: 3)
            clock.advance(by: .seconds(20))
            #expect(try await task.value == 3)
        }
        let attempts = try await StoreProbe.read(
            directory.file("test.sqlite"), "SELECT attempt || ':' || outcome FROM task_attempts ORDER BY attempt")
        #expect(attempts == ["1:failed", "2:failed", "3:succeeded"])
    }

    @Test("when the attempts run out, the task fails with the last error")
    func attemptsRunOut() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        let policy = RetryPolicy.exponentialJitter(maxAttempts: 2, initialDelay: .seconds(1), jitter: 0)
        try await engine.run { engine in
            let task = try await engine.createTask(Flaky.self, "g:5", options: TaskOptions(retry: policy))
            try await eventually("first failure stored") { try await isPending(task.id, afterAttempt: 1, in: engine) }
            try await sleepers(clock, atLeast: 3)
            clock.advance(by: .seconds(1))
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message == "test failure: g:5 run 2")
            #expect(try await engine.record(of: task.id).attempt == 2)
        }
    }

    @Test("a non-retryable error fails the task at once, whatever the policy")
    func nonRetryable() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let task = try await engine.createTask(Refuses.self, "x")
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message == "refused x")
            #expect(try await engine.record(of: task.id).attempt == 1)
        }
    }

    @Test("backoff waits vary within the jitter and grow up to the maximum")
    func backoffBounds() {
        let policy = RetryPolicy.exponentialJitter(
            maxAttempts: 10, initialDelay: .seconds(10), maxDelay: .seconds(60), multiplier: 2, jitter: 0.5)
        #expect(policy.delayMillisecondsForTest(afterFailure: 1, unit: 0) == 5_000)
        #expect(policy.delayMillisecondsForTest(afterFailure: 1, unit: 1) == 15_000)
        #expect(policy.delayMillisecondsForTest(afterFailure: 2, unit: 0.5) == 20_000)
        #expect(policy.delayMillisecondsForTest(afterFailure: 9, unit: 0.5) == 60_000)
    }

    @Test("an attempt past its timeout is cancelled and the task fails with TimeoutError")
    func attemptTimeout() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates) { $0.clock = clock }
        try await engine.run { engine in
            let task = try await engine.createTask(WaitAtGate.self, "slow", options: TaskOptions(timeout: .seconds(5)))
            await gates.waitForArrivals("slow")
            try await sleepers(clock, atLeast: 3)
            clock.advance(by: .seconds(5))
            let error = await #expect(throws: TimeoutError.self) { try await task.value }
            #expect(error?.message.contains("timed out after 5000 ms") == true)
            #expect(try await task.status() == .failed)
        }
    }

    @Test("a running task past its deadline is cancelled and fails with TimeoutError naming the deadline")
    func deadlineWhileRunning() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates) { $0.clock = clock }
        try await engine.run { engine in
            let deadline = Date(timeIntervalSince1970: Double(clock.now() + 10_000) / 1000)
            let task = try await engine.createTask(
                WaitAtGate.self, "late", options: TaskOptions(deadline: deadline, retry: .exponentialJitter(maxAttempts: 5)))
            await gates.waitForArrivals("late")
            try await sleepers(clock, atLeast: 3)
            clock.advance(by: .seconds(10))
            let error = await #expect(throws: TimeoutError.self) { try await task.value }
            #expect(error?.message.contains("deadline") == true)
            #expect(try await engine.record(of: task.id).attempt == 1)
        }
    }

    @Test("a deadline that passed while no process ran applies at the next start: the task never starts")
    func deadlineWhileDown() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter) { $0.clock = clock }
        let deadline = Date(timeIntervalSince1970: Double(clock.now() + 1_000) / 1000)
        let task = try await engine.createTask(Echo.self, "expired", options: TaskOptions(deadline: deadline))
        clock.advance(by: .seconds(2))
        try await engine.run { _ async throws -> Void in
            let error = await #expect(throws: TimeoutError.self) { try await task.value }
            #expect(error?.message.contains("deadline") == true)
        }
        #expect(counter.count("expired") == 0)
        #expect(try await engine.record(of: task.id).attempt == 0)
    }
}

/// Deadlines of pending tasks while every slot is busy.
@Suite("Scheduling: deadlines of waiting tasks")
struct WaitingDeadlineTests {
    @Test("a pending task whose deadline passes while every slot is busy fails at its deadline, not at a recovery sweep")
    func deadlineWhileSlotsBusy() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let gates = Gates()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, gates: gates, counter: counter) { configuration in
            configuration.clock = clock
            configuration.maxConcurrentTasks = 1
            // No sweep comes during the test: only the worker's deadline timer can fail the task.
            configuration.recoveryInterval = .seconds(86_400)
            configuration.leaseDuration = .seconds(86_400)
        }
        try await engine.run { engine in
            let busy = try await engine.createTask(WaitAtGate.self, "busy")
            await gates.waitForArrivals("busy")
            let deadline = Date(timeIntervalSince1970: Double(clock.now() + 10_000) / 1000)
            let late = try await engine.createTask(Echo.self, "late", options: TaskOptions(deadline: deadline))
            let later = try await engine.createTask(
                Echo.self, "later", options: TaskOptions(deadline: deadline.addingTimeInterval(10)))
            clock.advance(by: .seconds(10))
            let error = await #expect(throws: TimeoutError.self) {
                try await withTimeout("the late task fails", .seconds(60)) { try await late.value }
            }
            #expect(error?.message.contains("deadline") == true)
            #expect(try await later.status() == .pending)
            clock.advance(by: .seconds(10))
            await #expect(throws: TimeoutError.self) {
                try await withTimeout("the later task fails", .seconds(60)) { try await later.value }
            }
            #expect(try await busy.status() == .running)
            gates.open("busy")
            _ = try await busy.value
        }
        #expect(counter.count("late") == 0)
        #expect(counter.count("later") == 0)
    }
}
