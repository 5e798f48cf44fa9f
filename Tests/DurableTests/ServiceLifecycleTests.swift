import DurableTestKit
import Durable
import Foundation
import GRDB
import ServiceLifecycle
import Testing

/// The engine as a ServiceLifecycle service.
@Suite("ServiceLifecycle")
struct ServiceLifecycleTests {
    @Test("a graceful shutdown of the service group stops the worker and hands a running task back")
    func gracefulShutdown() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        let group = ServiceGroup(services: [engine], logger: testLogger)
        let running = Task { try await group.run() }
        let task = try await engine.createTask(WaitAtGate.self, "service")
        await gates.waitForArrivals("service")
        await group.triggerGracefulShutdown()
        try await running.value
        #expect(try await task.status() == .pending)
        #expect(try await engine.record(of: task.id).attempt == 1)
    }
}
