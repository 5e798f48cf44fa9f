import Durable
import DurableTestKit
import Foundation
import Testing

/// Messages and SIGKILL: a message sent while the receiving task's process is
/// dead is received once, after a restart.
@Suite("Messages under SIGKILL")
struct MessageCrashTests {
    @Test("a message sent while the waiting task's worker is dead is received once after a restart", arguments: ProcessStore.all)
    func sentWhileDead(store: ProcessStore) async throws {
        let directory = TemporaryDirectory()
        let database = try store.database(in: directory, file: "messages.sqlite")
        let engine = try await openEngine(database)
        let task = try await engine.createTask(AwaitMessage.self, "wake-up")

        // A worker runs the job until it waits, and is killed.
        let first = try ChildProcess("worker-1", arguments: ["run", database], in: directory)
        try await poll("the task waits for its message", child: first) {
            let record = try await engine.record(of: task.id)
            return record.status == .pending && record.attempt == 1
        }
        try await first.sigkill()
        #expect(try await engine.event(of: task.id, key: "waiting", as: String.self) == "wake-up")

        // Sent while no process runs it; sent again with the same key: stored once.
        #expect(try await engine.send(to: task, topic: "wake-up", "hello", key: "hook-7"))
        #expect(try await engine.send(to: task, topic: "wake-up", "hello", key: "hook-7") == false)

        let second = try ChildProcess(
            "worker-2", arguments: ["run", database, "--wait-ids", "\(task.id)-\(task.id)"], in: directory)
        try await second.expectCleanExit(timeout: .seconds(60))
        #expect(try await engine.record(of: task.id).status == .succeeded)
        #expect(try await engine.event(of: task.id, key: "got", as: String.self) == "hello")
        let messages = try await engine.messages(of: task.id)
        #expect(messages.count == 1 && messages[0].deliveredAt != nil && messages[0].deliveredAttempt == 2)
        let receives = try await engine.steps(of: task.id).filter { $0.name == "receive wake-up" }
        #expect(receives.count == 1 && receives[0].attempt == 2)
        try engine.close()
    }
}
