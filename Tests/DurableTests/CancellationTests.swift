import DurableTestKit
import Durable
import Testing

/// ASYNCIO.md §3: cancellation and its message, stored.
@Suite("Cancellation")
struct CancellationTests {
    @Test("a cancelled pending task never starts, also once a worker runs")
    func pendingNeverStarts() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter)
        let task = try await engine.createTask(Echo.self, "never")
        #expect(try await task.cancel(message: "stop"))
        try await engine.run { engine in
            let marker = try await engine.createTask(Echo.self, "after")
            _ = try await marker.value
        }
        #expect(counter.count("never") == 0)
        #expect(try await task.status() == .cancelled)
        #expect(try await engine.record(of: task.id).attempt == 0)
    }

    @Test("cancelling a running task cancels its job; it ends cancelled with the message")
    func cancelRunning() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let task = try await engine.createTask(WaitAtGate.self, "forever")
            await gates.waitForArrivals("forever")
            #expect(try await task.status() == .running)
            #expect(try await task.cancel(message: "user asked"))
            let error = await #expect(throws: CancelledError.self) { try await task.value }
            #expect(error?.message == "user asked")
            #expect(error?.taskID == task.id)
            #expect(try await task.cancelled())
            #expect(try await task.cancel() == false)
        }
        let attempts = try await engine.record(of: 1).attempt
        #expect(attempts == 1)
    }

    @Test("a job that catches the cancellation and returns finishes with its value (28)")
    func ignoredCancellation() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let task = try await engine.createTask(IgnoreCancel.self, "g")
            await gates.waitForArrivals("g")
            #expect(try await task.cancel())
            #expect(try await task.value == "ignored")
            #expect(try await !task.cancelled())
        }
    }

    @Test("the cancel message and state survive reopening the file")
    func cancelSurvivesRestart() async throws {
        let directory = TemporaryDirectory()
        let id: TaskID
        do {
            let engine = try await makeTestEngine(in: directory)
            let task = try await engine.createTask(Doubler.self, 1)
            _ = try await task.cancel(message: "kept")
            id = task.id
        }
        let reopened = try await makeTestEngine(in: directory)
        let task = try await reopened.task(id: id, as: Doubler.self)
        let error = await #expect(throws: CancelledError.self) { try await task.value }
        #expect(error?.message == "kept")
    }

    @Test("a job that throws CancelledError itself ends cancelled (29)")
    func selfCancel() async throws {
        struct CancelsItself: Job {
            static let name = "cancels-itself"
            func run(_ input: String, context: TaskContext) async throws -> String {
                throw CancelledError(message: "giving up")
            }
        }
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        engine.register(CancelsItself())
        try await engine.run { engine in
            let task = try await engine.createTask(CancelsItself.self, "x")
            await #expect(throws: CancelledError.self) { try await task.value }
            #expect(try await task.cancelled())
        }
    }

    // 20-27 and 30-33 concern the asyncio event loop's cancel counting
    // (cancelling(), uncancel()) and Python generators; Swift cancellation has no
    // counter to lower, so they have no counterpart. The durable parts (message,
    // delivery wherever the task runs, never starting a pending task) are above
    // and in MultiProcessTests.
}
