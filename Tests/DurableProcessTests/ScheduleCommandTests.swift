import DurableTestKit
import Durable
import Foundation
import Testing

/// `durable schedules` of the built binary on a database (of either store) whose
/// schedules a program stored: list (table and JSON), pause, resume, trigger, delete, and
/// one-line errors for unknown names.
@Suite("durable schedules")
struct ScheduleCommandTests {
    private func durable(_ arguments: [String]) async throws -> DurableToolOutput {
        try await runDurableTool(arguments)
    }

    @Test("lists schedules with their next runs; pauses, resumes, triggers and deletes by name", arguments: CommandStore.allCases)
    func schedules(store: CommandStore) async throws {
        let directory = TemporaryDirectory()
        let (engine, path) = try await store.makeEngine(in: directory)
        let utc = try #require(TimeZone(identifier: "UTC"))
        try await engine.schedule("nightly", cron: "0 3 * * *", timeZone: utc, job: Echo.self, input: "report")
        try await engine.schedule(
            "often", cron: "*/5 * * * *", timeZone: utc, job: Doubler.self, input: 2, overlap: .allowAll,
            catchUp: .runEach(within: .seconds(3600)))
        try engine.close()

        let empty = try await durable(["schedules", "--db", directory.file("empty.sqlite")])
        #expect(empty.status != 0 || empty.standardOutput.contains("no schedules"), "\(empty)")

        let list = try await durable(["schedules", "--db", path])
        #expect(list.status == 0, "\(list)")
        #expect(list.lines.first?.hasPrefix("name") == true, "\(list)")
        let nightly = try #require(list.lines.first { $0.hasPrefix("nightly") })
        // Foundation names UTC "GMT".
        #expect(nightly.contains("0 3 * * *") && nightly.contains(utc.identifier) && nightly.contains("echo"), "\(list)")
        #expect(nightly.contains("active") && nightly.contains("03:00:00"), "\(nightly)")

        let json = try await durable(["schedules", "list", "--db", path, "--json"])
        let objects = try json.lines.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(objects.map { $0["name"] as? String } == ["nightly", "often"])
        #expect(objects[1]["overlap"] as? String == "allow_all" && objects[1]["catch_up_window_ms"] as? Int == 3_600_000)
        #expect(objects[0]["input"] as? String == "report" && objects[0]["paused"] as? Bool == false)

        let pause = try await durable(["schedules", "pause", "nightly", "--db", path])
        #expect(pause.status == 0 && pause.standardOutput.contains("nightly: paused"), "\(pause)")
        let paused = try await durable(["schedules", "--db", path])
        #expect(paused.lines.first { $0.hasPrefix("nightly") }?.contains("paused") == true, "\(paused)")

        let trigger = try await durable(["schedules", "trigger", "nightly", "--db", path])
        #expect(trigger.status == 0 && trigger.standardOutput.contains("created task 1"), "\(trigger)")
        let tasks = try await durable(["ls", "--db", path])
        #expect(tasks.lines.contains { $0.contains("nightly ") && $0.contains("pending") }, "\(tasks)")

        let resume = try await durable(["schedules", "resume", "nightly", "--db", path])
        #expect(resume.status == 0 && resume.standardOutput.contains("nightly: active, next run"), "\(resume)")

        let delete = try await durable(["schedules", "delete", "often", "--db", path])
        #expect(delete.status == 0 && delete.standardOutput.contains("often: deleted"), "\(delete)")
        let remaining = try await durable(["schedules", "list", "--db", path, "--json"])
        #expect(remaining.lines.count == 1 && remaining.lines[0].contains("\"nightly\""), "\(remaining)")

        for command in ["pause", "resume", "trigger", "delete"] {
            let unknown = try await durable(["schedules", command, "nope", "--db", path])
            #expect(unknown.status != 0, "\(unknown)")
            #expect(unknown.standardError.contains("no schedule is named \"nope\""), "\(unknown)")
            // The database is named: the file, or the URL's schema.
            #expect(unknown.standardError.contains(path.split(separator: "=").last.map(String.init) ?? path), "\(unknown)")
        }
    }
}
