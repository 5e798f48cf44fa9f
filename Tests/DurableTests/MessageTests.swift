import DurableTestKit
import Durable
import Foundation
import Testing

/// Messages to tasks and events from them, on the store of the test run.
@Suite("Messages and events")
struct MessageTests {
    /// Waits until the task waits for a message: pending again, after its first run.
    private func waiting(_ task: DurableTask<String>, in engine: TaskEngine) async throws {
        try await eventually("the task waits for its message") {
            let record = try await engine.record(of: task.id)
            return record.status == .pending && record.attempt >= 1
        }
    }

    @Test("a job waits for a message without holding a slot, receives it once, and re-runs replay it")
    func receive() async throws {
        let directory = TemporaryDirectory()
        let counter = RunCounter()
        let engine = try await makeTestEngine(in: directory, counter: counter) { $0.maxConcurrentTasks = 1 }
        try await engine.run { engine in
            let task = try await engine.createTask(AwaitMessage.self, "approval")
            try await waiting(task, in: engine)
            // Its slot is free: another task runs meanwhile.
            #expect(try await engine.createTask(Doubler.self, 21).value == 42)
            #expect(try await engine.event(of: task.id, key: "waiting", as: String.self) == "approval")
            #expect(try await engine.send(to: task, topic: "approval", "yes", key: "hook-1"))
            #expect(try await task.value == "yes")
            // The step before it ran once; the message was received once.
            #expect(counter.count("before approval") == 1)
            #expect(counter.count("received yes") == 1)
        }
        let messages = try await engine.messages(of: try #require(try await engine.tasks(matching: TaskQuery(job: "await-message")).first?.id))
        #expect(messages.count == 1 && messages[0].deliveredAt != nil && messages[0].key == "hook-1")
    }

    @Test("messages are received in order of sending; a key sent again stores nothing; one receive takes one")
    func orderAndKeys() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let first = try await engine.createTask(AwaitMessage.self, "t")
        #expect(try await engine.send(to: first.id, topic: "t", "one", key: "k1"))
        #expect(try await engine.send(to: first.id, topic: "t", "one again", key: "k1") == false)
        #expect(try await engine.send(to: first.id, topic: "t", "two"))
        #expect(try await engine.send(to: first.id, topic: "other", "elsewhere"))
        let value = try await engine.run { _ in try await first.value }
        #expect(value == "one")
        let messages = try await engine.messages(of: first.id)
        #expect(messages.map(\.payload) == ["\"one\"", "\"two\"", "\"elsewhere\""])
        #expect(messages.map { $0.deliveredAt != nil } == [true, false, false])
    }

    @Test("a receive times out at its stored deadline, by the engine's clock")
    func timeout() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        try await engine.run { engine in
            let task = try await engine.createTask(AwaitMessage.self, "late/60")
            try await waiting(task, in: engine)
            let record = try await engine.record(of: task.id)
            #expect(record.runAt == clock.now() + 60_000)
            clock.advance(by: .seconds(60))
            #expect(try await task.value == "timeout")
            #expect(try await engine.event(of: task.id, key: "got", as: String.self) == "timeout")
        }
    }

    @Test("a message sent while the job decides to wait is not lost")
    func sentWhileRunning() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let tasks = try await engine.createTasks(AwaitMessage.self, (0..<20).map { TaskRequest("race\($0)") })
            for (index, task) in tasks.enumerated() {
                try await engine.send(to: task, topic: "race\(index)", "m\(index)")
            }
            #expect(try await engine.gather(tasks) == (0..<20).map { "m\($0)" })
        }
    }

    @Test("event waits for a value, times out, or fails when the task ends without it; bad sends are refused")
    func eventsAndBadInput() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory) { $0.clock = clock }
        try await engine.run { engine in
            let task = try await engine.createTask(AwaitMessage.self, "e")
            // Published after the call begins: it waits for it.
            async let waited = engine.event(of: task.id, key: "waiting", as: String.self)
            #expect(try await waited == "e")
            let timedOut = Task { try await engine.event(of: task.id, key: "never", as: String.self, timeout: .seconds(5)) }
            try await eventually("the timeout is armed") { clock.sleeperCount >= 3 }
            clock.advance(by: .seconds(5))
            await #expect(throws: TimeoutError.self) { try await timedOut.value }
            try await engine.send(to: task.id, topic: "e", "done")
            #expect(try await task.value == "done")
            let ended = await #expect(throws: DurableError.self) {
                try await engine.event(of: task.id, key: "never", as: String.self)
            }
            #expect(ended?.code == .invalidState)
            let finished = await #expect(throws: DurableError.self) { try await engine.send(to: task.id, topic: "e", "x") }
            #expect(finished?.code == .invalidState && finished?.message.contains("never be received") == true)
            let unknown = await #expect(throws: DurableError.self) { try await engine.send(to: TaskID(999_999), topic: "e", "x") }
            #expect(unknown?.code == .unknownTask)
            let empty = await #expect(throws: DurableError.self) { try await engine.send(to: task.id, topic: "", "x") }
            #expect(empty?.code == .invalidArgument)
            #expect(try await engine.events(of: task.id).map(\.key) == ["got", "waiting"])
        }
    }
}
