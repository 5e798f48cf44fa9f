import DurableTestKit
import Durable
import Foundation
import Testing

/// `durable send` and the events and messages of `durable show`, on the built
/// binary, on both stores.
@Suite("durable send")
struct MessageCommandTests {
    @Test(
        "sends a JSON message to a waiting task (once per key); show lists its events and messages; bad input is refused",
        arguments: CommandStore.allCases)
    func send(store: CommandStore) async throws {
        let directory = TemporaryDirectory()
        let (engine, path) = try await store.makeEngine(in: directory)
        let task = try await engine.run { engine in
            let task = try await engine.createTask(AwaitMessage.self, "approval")
            try await eventually("the task waits") {
                let record = try await engine.record(of: task.id)
                return record.status == .pending && record.attempt == 1
            }
            return task
        }
        let send = try await runDurableTool(["send", "\(task.id)", "approval", "\"yes\"", "--key", "k1", "--db", path])
        #expect(send.status == 0 && send.standardOutput.contains("message of topic \"approval\" sent"), "\(send)")
        let again = try await runDurableTool(["send", "\(task.id)", "approval", "\"yes\"", "--key", "k1", "--db", path])
        #expect(again.status == 0 && again.standardOutput.contains("nothing sent"), "\(again)")
        let notJSON = try await runDurableTool(["send", "\(task.id)", "approval", "yes", "--db", path])
        #expect(notJSON.status != 0 && notJSON.standardError.contains("not JSON"), "\(notJSON)")
        let unknown = try await runDurableTool(["send", "9999", "approval", "1", "--db", path])
        #expect(unknown.status != 0 && unknown.standardError.contains("no task has id 9999"), "\(unknown)")

        let show = try await runDurableTool(["show", "\(task.id)", "--db", path])
        #expect(show.standardOutput.contains("events:") && show.standardOutput.contains("waiting"), "\(show)")
        #expect(show.standardOutput.contains("messages:") && show.standardOutput.contains("not yet"), "\(show)")

        let value = try await engine.run { _ in try await task.value }
        #expect(value == "yes")
        let json = try await runDurableTool(["show", "\(task.id)", "--db", path, "--json"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(json.standardOutput.utf8)) as? [String: Any])
        let events = try #require(object["events"] as? [String: Any])
        #expect(events["got"] as? String == "yes")
        let messages = try #require(object["messages"] as? [[String: Any]])
        #expect(messages.count == 1 && messages[0]["delivered_attempt"] as? Int == 2 && messages[0]["key"] as? String == "k1")
        try engine.close()
    }
}
