import DurableTestKit
import Durable
import Foundation
import Testing

/// `durable queues` of the built binary, on both stores: list (table and JSON),
/// set limits, pause, resume; bad limits are refused by the argument parser.
@Suite("durable queues")
struct QueueCommandTests {
    private func durable(_ arguments: [String]) async throws -> DurableToolOutput {
        try await runDurableTool(arguments)
    }

    @Test("lists queues with counts; sets, keeps and removes limits; pauses and resumes", arguments: CommandStore.allCases)
    func queues(store: CommandStore) async throws {
        let directory = TemporaryDirectory()
        let (engine, path) = try await store.makeEngine(in: directory)
        _ = try await engine.createTasks(Echo.self, ["a", "b"].map { TaskRequest($0, options: TaskOptions(queue: "emails")) })
        try engine.close()

        let list = try await durable(["queues", "--db", path])
        #expect(list.status == 0, "\(list)")
        #expect(list.lines.first?.hasPrefix("queue") == true, "\(list)")
        let emails = try #require(list.lines.first { $0.hasPrefix("emails") })
        #expect(emails.contains("active") && emails.hasSuffix("2        0"), "\(list)")

        let set = try await durable(["queues", "set", "emails", "--db", path, "--concurrency", "3", "--rate", "10/1m"])
        #expect(set.status == 0, "\(set)")
        #expect(set.standardOutput.contains("emails: concurrency 3, per worker none, rate 10 per 1 m"), "\(set)")
        let perWorker = try await durable(["queues", "set", "emails", "--db", path, "--worker-concurrency", "1"])
        #expect(perWorker.standardOutput.contains("concurrency 3, per worker 1, rate 10 per"), "\(perWorker)")
        // A period below a second is kept to the millisecond.
        _ = try await durable(["queues", "set", "emails", "--db", path, "--rate", "5/1500ms"])
        let subSecond = try await durable(["queues", "list", "--db", path, "--json"])
        #expect(subSecond.standardOutput.contains("\"rate_period_ms\":1500"), "\(subSecond)")
        let removed = try await durable(["queues", "set", "emails", "--db", path, "--rate", "none"])
        #expect(removed.standardOutput.contains("rate none"), "\(removed)")

        let pause = try await durable(["queues", "pause", "emails", "--db", path])
        #expect(pause.status == 0 && pause.standardOutput.contains("emails: paused"), "\(pause)")
        let json = try await durable(["queues", "list", "--db", path, "--json"])
        let objects = try json.lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        let stored = try #require(objects.first { $0["queue"] as? String == "emails" })
        #expect(stored["paused"] as? Bool == true && stored["concurrency"] as? Int == 3)
        #expect(stored["worker_concurrency"] as? Int == 1 && stored["rate_limit"] is NSNull && stored["pending"] as? Int == 2)
        let resume = try await durable(["queues", "resume", "emails", "--db", path])
        #expect(resume.status == 0 && resume.standardOutput.contains("emails: active"), "\(resume)")

        for bad in [["--concurrency", "0"], ["--rate", "10"], ["--rate", "0/1m"], ["--worker-concurrency", "x"], []] {
            let refused = try await durable(["queues", "set", "emails", "--db", path] + bad)
            #expect(refused.status != 0, "\(bad): \(refused)")
        }
    }
}
