import DurableTestKit
import Durable
import Testing

/// ASYNCIO.md §8: asCompleted in stored completion order.
@Suite("asCompleted")
struct AsCompletedTests {
    @Test("tasks come out in completion order, as the original task handles (73, 74)")
    func completionOrder() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        try await engine.run { engine in
            let tasks = try await engine.createTasks(WaitAtGate.self, inputs: ["a", "b", "c"])
            await gates.waitForArrivals("c")
            let iterator = engine.asCompleted(tasks).makeAsyncIterator()
            gates.open("b")
            #expect(try await iterator.next() == tasks[1])
            gates.open("c")
            #expect(try await iterator.next() == tasks[2])
            gates.open("a")
            #expect(try await iterator.next() == tasks[0])
            #expect(try await iterator.next() == nil)
        }
    }

    @Test("tasks finished before the call come first, in the order they finished")
    func storedOrderFirst() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        let tasks = try await engine.run { engine in
            let tasks = try await engine.createTasks(WaitAtGate.self, inputs: ["x", "y", "z"])
            await gates.waitForArrivals("z")
            for index in [2, 0, 1] {
                gates.open(["x", "y", "z"][index])
                _ = try await tasks[index].value
            }
            return tasks
        }
        let reopened = try await makeTestEngine(in: directory)
        let handles = try await tasks.asyncMap { try await reopened.task(id: $0.id, as: WaitAtGate.self) }
        var order: [String] = []
        for try await task in reopened.asCompleted(handles) {
            order.append(try await task.result())
        }
        #expect(order == ["z", "x", "y"])
    }

    @Test("with a timeout, finished tasks are yielded, then TimeoutError (76)")
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
            let consumer = Task { () -> (yielded: [TaskID], timedOut: Bool) in
                var yielded: [TaskID] = []
                do {
                    for try await task in engine.asCompleted([quick, slow], timeout: .seconds(1)) {
                        yielded.append(task.id)
                    }
                    return (yielded, false)
                } catch is TimeoutError {
                    return (yielded, true)
                }
            }
            await waitForSleeper(on: clock, moreThan: sleepers)
            clock.advance(by: .seconds(1))
            let (yielded, timedOut) = try await consumer.value
            #expect(yielded == [quick.id])
            #expect(timedOut)
            gates.open("slow")
        }
    }

    @Test("an unreached timeout does not fire (76)")
    func unusedTimeout() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let tasks = try await engine.createTasks(Doubler.self, inputs: [1, 2])
            var count = 0
            for try await _ in engine.asCompleted(tasks, timeout: .seconds(3600)) { count += 1 }
            #expect(count == 2)
        }
    }

    @Test("the iterator can be left and resumed (77); duplicates are yielded once (78)")
    func resumeAndDuplicates() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        try await engine.run { engine in
            let a = try await engine.createTask(Doubler.self, 1)
            let b = try await engine.createTask(Doubler.self, 2)
            let iterator = engine.asCompleted([a, a, b]).makeAsyncIterator()
            let first = try await iterator.next()
            #expect(first != nil)
            let second = try await iterator.next()
            #expect(second != nil && second != first)
            #expect(try await iterator.next() == nil)
        }
    }
}
