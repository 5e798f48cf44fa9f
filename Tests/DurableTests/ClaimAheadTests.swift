import DurableTestKit
import Durable
import Foundation
import Testing

/// Tasks a worker claims ahead of its free slots while its runs are short
/// (`EngineConfiguration.maxTasksClaimedAhead`): they wait for a slot without
/// running, and a cancel or a shutdown meanwhile never runs them. A manual
/// clock makes every run take 0 ms, so the worker claims ahead after its first run.
@Suite("Claiming ahead of free slots")
struct ClaimAheadTests {
    /// An engine with one slot on `clock`.
    private func oneSlotEngine(
        in directory: TemporaryDirectory, gates: Gates, counter: RunCounter, clock: ManualClock = ManualClock()
    ) async throws -> TaskEngine {
        try await makeTestEngine(in: directory, gates: gates, counter: counter) {
            $0.clock = clock
            $0.maxConcurrentTasks = 1
            $0.gracefulShutdownTimeout = .seconds(30)
        }
    }

    /// `task` is pending again, never ran, and its one attempt was handed back saying `reason`.
    private func expectHandedBack(
        _ task: DurableTask<String>, in engine: TaskEngine, counter: RunCounter, saying reason: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        #expect(try await task.status() == .pending, sourceLocation: sourceLocation)
        #expect(counter.count("waiting") == 0, sourceLocation: sourceLocation)
        let attempts = try await engine.attempts(of: task.id)
        #expect(attempts.map { $0.outcome } == [AttemptOutcome.interrupted], sourceLocation: sourceLocation)
        #expect(attempts.first?.error?.message.contains(reason) == true, sourceLocation: sourceLocation)
    }

    /// An engine with one slot whose first run (a no-op) has ended, and a task
    /// holding that slot at its gate; returns the busy task.
    private func occupyTheSlot(
        of engine: TaskEngine, gates: Gates
    ) async throws -> DurableTask<String> {
        _ = try await engine.createTask(Echo.self, "first").value
        let busy = try await engine.createTask(WaitAtGate.self, "busy")
        await gates.waitForArrivals("busy")
        return busy
    }

    @Test("a task claimed ahead waits for the busy slot, then runs; a cancelled one ends without running")
    func cancelledBeforeStart() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let counter = RunCounter()
        let engine = try await oneSlotEngine(in: directory, gates: gates, counter: counter)
        try await engine.run { engine in
            let busy = try await occupyTheSlot(of: engine, gates: gates)
            let waiting = try await engine.createTask(Echo.self, "waiting")
            let cancelled = try await engine.createTask(Echo.self, "cancelled")
            // Both are claimed by this worker while the one slot is busy.
            try await eventually("the tasks are claimed ahead") {
                let both = [try await waiting.status(), try await cancelled.status()]
                return both == [.running, .running]
            }
            #expect(counter.count("waiting") == 0 && counter.count("cancelled") == 0)
            #expect(try await cancelled.cancel(message: "not needed"))
            let error = await #expect(throws: CancelledError.self) { try await cancelled.value }
            #expect(error?.message == "not needed")
            #expect(try await waiting.status() == .running)
            gates.open("busy")
            #expect(try await busy.value == "busy")
            #expect(try await waiting.value == "waiting")
            #expect(counter.count("waiting") == 1)
            #expect(counter.count("cancelled") == 0)
        }
    }

    @Test("at shutdown, a task claimed ahead goes back to pending without running; the next run runs it")
    func handedBackAtShutdown() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let counter = RunCounter()
        let clock = ManualClock()
        let engine = try await oneSlotEngine(in: directory, gates: gates, counter: counter, clock: clock)
        let (busy, waiting) = try await engine.run { engine in
            let busy = try await occupyTheSlot(of: engine, gates: gates)
            let waiting = try await engine.createTask(Echo.self, "waiting")
            try await eventually("the task is claimed ahead") { try await waiting.status() == .running }
            let sleepers = clock.sleeperCount
            // Once the grace timer is armed (the shutdown began), the busy task may finish.
            Task {
                await waitForSleeper(on: clock, moreThan: sleepers)
                gates.open("busy")
            }
            return (busy, waiting)
        }
        #expect(try await busy.status() == .succeeded)
        try await expectHandedBack(waiting, in: engine, counter: counter, saying: "shut down before the task started")
        try await engine.run { _ async throws -> Void in #expect(try await waiting.value == "waiting") }
        #expect(counter.count("waiting") == 1)
    }

    @Test("a task claimed ahead that finds no slot for a second is handed back at a heartbeat, for other workers")
    func staleHandedBack() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let counter = RunCounter()
        let clock = ManualClock()
        let engine = try await oneSlotEngine(in: directory, gates: gates, counter: counter, clock: clock)
        try await engine.run { engine in
            let busy = try await occupyTheSlot(of: engine, gates: gates)
            let waiting = try await engine.createTask(Echo.self, "waiting")
            try await eventually("the task is claimed ahead") { try await waiting.status() == .running }
            // A heartbeat (every 10 s with the default lease) finds it waiting for more than 1 s.
            // (Its status is stored before the worker has put it in line: advanced until then,
            // one heartbeat at a time, so that the lease, renewed by each, never runs out.)
            var handedBack = false
            for _ in 0..<20 where !handedBack {
                let before = clock.now()
                clock.advance(by: .seconds(11))
                try await eventually("a heartbeat renewed the lease or handed the task back") {
                    let record = try await engine.record(of: waiting.id)
                    return record.status == .pending || (record.leaseExpiresAt ?? 0) > before + 30_000
                }
                handedBack = try await waiting.status() == .pending
            }
            #expect(handedBack)
            try await expectHandedBack(
                waiting, in: engine, counter: counter, saying: "waited more than 1000 ms for a slot")
            gates.open("busy")
            _ = try await busy.value
            #expect(try await waiting.value == "waiting")
            #expect(counter.count("waiting") == 1)
        }
    }

    @Test("maxTasksClaimedAhead below 0 is refused, naming the setting")
    func negativeLimitRefused() async throws {
        let directory = TemporaryDirectory()
        let error = #expect(throws: DurableError.self) {
            var configuration = EngineConfiguration()
            configuration.maxTasksClaimedAhead = -1
            _ = try TaskEngine(path: directory.file("refused.sqlite"), configuration: configuration)
        }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message.contains("maxTasksClaimedAhead") == true)
        #expect(!FileManager.default.fileExists(atPath: directory.file("refused.sqlite")))
    }
}
