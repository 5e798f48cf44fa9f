import DurableTestKit
@testable import Durable
@testable import DurableEngine
import Foundation
import Testing

/// Queues and their limits, concurrency keys, fairness between queues: on the
/// store of the test run, each limit checked against what is stored.
@Suite("Queues, limits and concurrency keys")
struct QueueTests {
    private func status(_ id: TaskID, in engine: TaskEngine) async throws -> TaskStatus {
        try await engine.record(of: id).status
    }

    /// Tasks of the default queue run to the end: a sync point after which the
    /// worker has claimed (or left) everything it could.
    private func syncPoint(_ engine: TaskEngine) async throws {
        _ = try await engine.createTask(Doubler.self, 1).value
    }

    private func running(_ queue: String, in engine: TaskEngine) async throws -> Int {
        try await engine.tasks(matching: TaskQuery(statuses: [.running])).count { record in
            record.job == WaitAtGate.name && record.queue == queue
        }
    }

    @Test("a worker runs the tasks of its queues only; the others wait for a worker of theirs")
    func workerQueues() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let mine = try await engine.createTask(Echo.self, "mine", options: TaskOptions(queue: "mine"))
        let theirs = try await engine.createTask(Echo.self, "theirs", options: TaskOptions(queue: "theirs"))
        let worker = Task { try await engine.run(queues: ["mine"]) }
        #expect(try await mine.value == "mine")
        #expect(try await status(theirs.id, in: engine) == .pending)
        #expect(try await engine.record(of: theirs.id).queue == "theirs")
        worker.cancel()
        try await worker.value
        let value = try await engine.run { _ in try await theirs.value }
        #expect(value == "theirs")
        let names = try await engine.queues().map(\.name)
        #expect(names == ["default", "mine", "theirs"])
    }

    @Test("tasks are listed and their pending ones cancelled by queue (and job); other queues' tasks are left alone")
    func selectByQueue() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let mails = try await engine.createTasks(Echo.self, ["a", "b"].map { TaskRequest($0, options: TaskOptions(queue: "mails")) })
        let other = try await engine.createTask(Doubler.self, 1, options: TaskOptions(queue: "mails"))
        let elsewhere = try await engine.createTask(Echo.self, "c", options: TaskOptions(queue: "reports"))
        let listed = try await engine.tasks(matching: TaskQuery(queue: "mails"))
        #expect(Set(listed.map(\.id)) == Set(mails.map(\.id) + [other.id]))
        #expect(try await engine.tasks(matching: TaskQuery(job: Echo.name, queue: "mails")).count == 2)
        #expect(try await engine.tasks(matching: TaskQuery(queue: "unknown")).isEmpty)
        #expect(try await engine.cancelPendingTasks(job: Echo.name, queue: "mails") == 2)
        #expect(try await status(other.id, in: engine) == .pending)
        #expect(try await status(elsewhere.id, in: engine) == .pending)
        #expect(try await engine.cancelPendingTasks(queue: "mails") == 1)
        #expect(try await status(elsewhere.id, in: engine) == .pending)
    }

    @Test("a paused queue starts nothing until it is resumed; its settings are stored")
    func pause() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let paused = try await engine.pauseQueue("held")
        #expect(paused.isPaused && !paused.hasLimits)
        try await engine.run { engine in
            let task = try await engine.createTask(Echo.self, "held", options: TaskOptions(queue: "held"))
            try await syncPoint(engine)
            #expect(try await status(task.id, in: engine) == .pending)
            #expect(try await engine.queue(named: "held")?.pending == 1)
            try await engine.resumeQueue("held")
            #expect(try await task.value == "held")
        }
    }

    @Test("a concurrency limit: no more tasks of the queue run at once, and the rest start as those end")
    func concurrencyLimit() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.configureQueue("limited", concurrency: 2)
        let settings = try #require(try await engine.queue(named: "limited")?.settings)
        #expect(settings.concurrency == 2 && settings.workerConcurrency == nil && settings.rateLimit == nil)
        try await engine.run { engine in
            let tasks = try await engine.createTasks(
                WaitAtGate.self, (0..<6).map { _ in TaskRequest("limited", options: TaskOptions(queue: "limited")) })
            await gates.waitForArrivals("limited", count: 2)
            try await syncPoint(engine)
            #expect(try await engine.queue(named: "limited")?.running == 2)
            #expect(gates.arrivals("limited") == 2)
            gates.open("limited")
            #expect(try await engine.gather(tasks).count == 6)
        }
    }

    @Test("a per-worker limit holds for the worker's own tasks")
    func workerConcurrency() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.configureQueue("solo", workerConcurrency: 1)
        try await engine.run { engine in
            let tasks = try await engine.createTasks(
                WaitAtGate.self, (0..<3).map { _ in TaskRequest("solo", options: TaskOptions(queue: "solo")) })
            await gates.waitForArrivals("solo")
            try await syncPoint(engine)
            #expect(try await engine.queue(named: "solo")?.running == 1)
            gates.open("solo")
            #expect(try await engine.gather(tasks).count == 3)
        }
    }

    @Test("a rate limit: at most N starts per period, by the engine's clock; the next start waits for the window")
    func rateLimit() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter) { $0.clock = clock }
        try await engine.configureQueue("rated", rateLimit: RateLimit(2, per: .seconds(60)))
        try await engine.run { engine in
            let tasks = try await engine.createTasks(
                Echo.self, (0..<5).map { TaskRequest("r\($0)", options: TaskOptions(queue: "rated")) })
            try await eventually("two started") { counter.total == 2 }
            try await syncPoint(engine)
            #expect(counter.total == 2)
            #expect(try await engine.queue(named: "rated")?.pending == 3)
            // The window moves on: two more start, by the worker's timer.
            clock.advance(by: .seconds(60))
            try await eventually("four started") { counter.total == 4 }
            try await syncPoint(engine)
            #expect(counter.total == 4)
            clock.advance(by: .seconds(60))
            #expect(try await engine.gather(tasks).count == 5)
        }
    }

    @Test("a concurrency key runs its tasks one at a time, in order, while other keys go on")
    func concurrencyKey() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let keyed = try await engine.createTasks(
                WaitAtGate.self,
                ["k1", "k2", "k3"].map { TaskRequest($0, options: TaskOptions(concurrencyKey: ConcurrencyKey("customer"))) })
            let other = try await engine.createTask(
                WaitAtGate.self, "other", options: TaskOptions(concurrencyKey: ConcurrencyKey("someone else")))
            await gates.waitForArrivals("k1")
            await gates.waitForArrivals("other")
            try await syncPoint(engine)
            #expect(gates.arrivals("k2") == 0 && gates.arrivals("k3") == 0)
            gates.open("other")
            #expect(try await other.value == "other")
            gates.open("k1")
            await gates.waitForArrivals("k2")
            try await syncPoint(engine)
            #expect(gates.arrivals("k3") == 0)
            #expect(try await status(keyed[2].id, in: engine) == .pending)
            gates.open("k2")
            gates.open("k3")
            #expect(try await engine.gather(keyed) == ["k1", "k2", "k3"])
        }
    }

    @Test("a concurrency key with a limit of 2 runs two at a time; a cancelled waiting task frees nothing it did not hold")
    func keyLimit() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let key = ConcurrencyKey("pair", limit: 2)
            let tasks = try await engine.createTasks(
                WaitAtGate.self, (0..<5).map { _ in TaskRequest("pair", options: TaskOptions(concurrencyKey: key)) })
            await gates.waitForArrivals("pair", count: 2)
            try await engine.cancel(tasks[4].id)
            try await syncPoint(engine)
            #expect(gates.arrivals("pair") == 2)
            gates.open("pair")
            let results = try await engine.gatherResults(Array(tasks.prefix(4)))
            #expect(results.count { (try? $0.get()) == "pair" } == 4)
            #expect(try await status(tasks[4].id, in: engine) == .cancelled)
        }
    }

    @Test("claims take turns between queues: a backlog in one queue does not hold back another")
    func fairness() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let store = engine.store
        let now = engine.configuration.clock.now()
        let backlog = (0..<10).map { NewTask(job: "echo", input: "\"b\($0)\"", priority: 0, runAt: now - 1000, queue: "backlog") }
        let fresh = (0..<2).map { NewTask(job: "echo", input: "\"f\($0)\"", priority: 0, runAt: now, queue: "fresh") }
        let created = try await store.createTasks(backlog + fresh, now: now)
        let claim = ClaimRequest(owner: "w", limit: 4, jobs: ["echo"], leaseUntil: now + 60_000)
        let claimed = try await store.completeAndClaim([], claim: claim, now: now).claimed
        let freshIDs = Set(created.suffix(2).map(\.id))
        #expect(claimed.count == 4)
        #expect(claimed.filter { freshIDs.contains($0.id) }.count == 2, "\(claimed.map(\.queue))")
        #expect(Set(claimed.map(\.queue)) == ["backlog", "fresh"])
        #expect(ClaimRule.interleave([[(1, 5, TaskID(1)), (0, 5, TaskID(2))], [(0, 9, TaskID(3))]], limit: 3)
            == [TaskID(1), TaskID(3), TaskID(2)])
    }

    @Test("a queue with limits is served beside a busy queue without: its task does not wait for the backlog")
    func limitedBesideBusy() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory) { $0.maxConcurrentTasks = 4 }
        try await engine.configureQueue("rated", rateLimit: RateLimit(100, per: .seconds(60)))
        try await engine.run { engine in
            let backlog = try await engine.createTasks(Echo.self, (0..<300).map { TaskRequest("b\($0)") })
            let rated = try await engine.createTask(Echo.self, "rated", options: TaskOptions(queue: "rated"))
            #expect(try await rated.value == "rated")
            let done = try await engine.tasks(matching: TaskQuery(statuses: [.succeeded], job: "echo", limit: 1000))
            #expect(done.count < 300, "the limited queue's task waited for the whole backlog")
            _ = try await engine.gather(backlog)
        }
    }

    @Test("bad queue settings and options are refused, naming them; nothing is stored")
    func badInput() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let refused: [(String, () async throws -> Void)] = [
            ("TaskOptions.queue", { _ = try await engine.createTask(Echo.self, "", options: TaskOptions(queue: "")) }),
            ("must allow at least 1", {
                _ = try await engine.createTask(
                    Echo.self, "", options: TaskOptions(concurrencyKey: ConcurrencyKey("k", limit: 0)))
            }),
            ("concurrency must be at least 1", { try await engine.configureQueue("q", concurrency: 0) }),
            ("workerConcurrency must be at least 1", { try await engine.configureQueue("q", workerConcurrency: -1) }),
            ("at least 1 start", { try await engine.configureQueue("q", rateLimit: RateLimit(0, per: .seconds(1))) }),
            ("period", { try await engine.configureQueue("q", rateLimit: RateLimit(1, per: .zero)) }),
            ("a queue", { try await engine.pauseQueue("") }),
        ]
        for (named, call) in refused {
            let error = await #expect(throws: DurableError.self) { try await call() }
            #expect(error?.code == .invalidArgument && error?.message.contains(named) == true, "\(String(describing: error))")
        }
        #expect(try await engine.queues().map(\.name) == ["default"])
        #expect(try await engine.queue(named: "default")?.settings == QueueSettings())
        #expect(try await engine.tasks(matching: TaskQuery()).isEmpty)
    }
}
