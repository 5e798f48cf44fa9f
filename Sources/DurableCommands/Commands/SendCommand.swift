import ArgumentParser
import Durable
import Foundation

/// `durable send ID TOPIC JSON`: a message to a task that waits for it.
struct SendCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "send",
        abstract: "Send a message to a task: one receive of the topic in its job takes it.",
        discussion: """
            The payload is JSON ("yes" must be written '"yes"'). A task that waits for the topic becomes due at \
            once; with --key, sending again with the same key stores nothing (idempotent webhooks).
            """)

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The task's id, or FILE:LINE for the task of a line of a durable run batch.") var task: TaskReference
    @Argument(help: "The topic its job receives.") var topic: String
    @Argument(help: "The payload, as JSON.") var payload: String
    @Option(name: .long, help: "An idempotency key: a message with the same key to the task is stored once.")
    var key: String?

    func run() async throws {
        let json: JSONValue
        do {
            json = try JSONDecoder().decode(JSONValue.self, from: Data(payload.utf8))
        } catch {
            throw CommandError("the payload is not JSON: \(payload) (a text is written with quotes: '\"yes\"')")
        }
        let engine = try await openExisting(database)
        defer { try? engine.close() }
        let id = try await task.resolve(in: engine, database: database)
        do {
            let stored = try await engine.send(to: id, topic: topic, json, key: key)
            print(stored ? "task \(id): message of topic \"\(topic)\" sent" : "task \(id): a message with key \"\(key ?? "")\" was sent before; nothing sent")
        } catch let error as DurableError where error.code == .unknownTask {
            throw CommandError("no task has id \(id) in \(database.location)")
        }
    }
}
