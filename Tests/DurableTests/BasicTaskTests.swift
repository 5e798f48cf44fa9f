import DurableTestKit
import Durable
import Testing

/// Each test gets a fresh directory and engine from the `.temporaryEngine` trait.
@Suite("Creating tasks and reading their state", .temporaryEngine)
struct BasicTaskTests {
    @Test("a created task runs, and its stored result answers value, result and done")
    func createRunResult() async throws {
        try await TemporaryEngine.engine.run { engine in
            let task = try await engine.createTask(Doubler.self, 21)
            #expect(try await task.value == 42)
            #expect(try await task.done())
            #expect(try await !task.cancelled())
            #expect(try await task.result() == 42)
            #expect(try await task.exception() == nil)
            #expect(try await task.status() == .succeeded)
            #expect(try await task.cancel() == false)
        }
    }
}
