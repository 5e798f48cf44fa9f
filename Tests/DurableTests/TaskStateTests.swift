import DurableTestKit
import Durable
import Testing

/// ASYNCIO.md §2: done / result / exception / cancelled, answered from the store.
@Suite("Task state queries")
struct TaskStateTests {
    @Test("a fresh task is not done and not cancelled; result and exception raise invalid state (13, 14)")
    func freshTask() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Doubler.self, 1)
        #expect(try await task.status() == .pending)
        #expect(try await !task.done())
        #expect(try await !task.cancelled())
        let resultError = await #expect(throws: DurableError.self) { try await task.result() }
        #expect(resultError?.code == .invalidState)
        #expect(resultError?.message.contains("pending") == true)
        let exceptionError = await #expect(throws: DurableError.self) { try await task.exception() }
        #expect(exceptionError?.code == .invalidState)
    }

    @Test("after success: done, not cancelled, result, no exception, cancel returns false (15)")
    func afterSuccess() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.run { engine in
            let task = try await engine.createTask(Doubler.self, 4)
            _ = try await task.value
            return task
        }
        #expect(try await task.done())
        #expect(try await !task.cancelled())
        #expect(try await task.result() == 8)
        #expect(try await task.exception() == nil)
        #expect(try await task.cancel() == false)
        #expect(try await task.status() == .succeeded)
    }

    @Test("after failure: result rethrows the stored error, exception returns it, cancel returns false (16, 18)")
    func afterFailure() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.run { engine in
            let task = try await engine.createTask(Fail.self, "boom")
            _ = try? await task.value
            return task
        }
        #expect(try await task.done())
        #expect(try await !task.cancelled())
        let thrown = await #expect(throws: StoredError.self) { try await task.result() }
        #expect(thrown?.message == "test failure: boom")
        #expect(thrown?.type.hasSuffix("TestFailure") == true)
        let stored = try await task.exception() as? StoredError
        #expect(stored == thrown)
        #expect(try await task.cancel() == false)

        // The same error reads back after reopening the file.
        let reopened = try await makeTestEngine(in: directory)
        let again = try await reopened.task(id: task.id, as: Fail.self).exception() as? StoredError
        #expect(again == stored)
    }

    @Test("after cancellation: done and cancelled, result and exception raise CancelledError, cancel again is false (17)")
    func afterCancel() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Doubler.self, 1)
        #expect(try await task.cancel(message: "not needed"))
        #expect(try await task.done())
        #expect(try await task.cancelled())
        let resultError = await #expect(throws: CancelledError.self) { try await task.result() }
        #expect(resultError?.message == "not needed")
        await #expect(throws: CancelledError.self) { try await task.exception() }
        #expect(try await task.cancel() == false)
    }

    @Test("engine.task(id:as:) reattaches, and refuses an unknown id or another job's task")
    func reattach() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Doubler.self, 1)
        #expect(try await engine.task(id: task.id, as: Doubler.self) == task)
        let unknown = await #expect(throws: DurableError.self) { try await engine.task(id: 999, as: Doubler.self) }
        #expect(unknown?.code == .unknownTask)
        let mismatch = await #expect(throws: DurableError.self) { try await engine.task(id: task.id, as: Echo.self) }
        #expect(mismatch?.code == .jobMismatch)
    }

    // 19 (SystemExit during cancel) has no Swift counterpart: Swift has no
    // non-catchable base errors.
}
