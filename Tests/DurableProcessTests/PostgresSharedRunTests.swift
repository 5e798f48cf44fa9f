import DurableTestKit
import Foundation
import Testing

/// `durable run` in several processes on one PostgreSQL database: they share the
/// batch's lines (as processes on several machines would).
@Suite("durable run on PostgreSQL: processes share a batch", .serialized)
struct PostgresSharedRunTests {
    @Test("two durable run processes on copies of one file in different folders: each line runs once, both run some")
    func twoProcessesShareLines() async throws {
        let directory = TemporaryDirectory()
        let url = try postgresURL()
        let log = directory.file("runs.log")
        let count = 30
        // Each line logs its number and the durable run that ran it.
        let text = (1...count).map { "echo \"\($0) $DURABLE_RUNNER\" >> \(log); sleep 0.3" }.joined(separator: "\n")
        // Two folders stand for two machines: the same file at different paths.
        var files: [String] = []
        for machine in ["a", "b"] {
            let folder = directory.file(machine)
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            files.append(folder + "/jobs.txt")
            try write(text + "\n", to: files[files.count - 1])
        }
        // Both start on a new schema: one creates it, the other waits for it (an advisory lock).
        let runs = try files.map { try RunningDurable(["run", $0, "-j", "2", "--db", url], in: directory) }
        var results: [DurableResult] = []
        for run in runs { results.append(try await run.finish()) }
        for result in results {
            #expect(result.status == 0, "\(result)")
            #expect(result.standardError.contains("\(count) succeeded, 0 failed"), "\(result)")
        }
        #expect(results.allSatisfy { $0.standardError.contains("run meanwhile by another durable run") }, "\(results)")

        // Every line ran exactly once, and each process ran some of them.
        let entries = try String(contentsOfFile: log, encoding: .utf8).split(separator: "\n").map {
            $0.split(separator: " ").map(String.init)
        }
        #expect(entries.map { Int($0[0]) ?? 0 }.sorted() == Array(1...count), "\(entries)")
        #expect(Set(entries.map { $0[1] }).count == 2, "\(entries)")

        // One task per line, each in one attempt.
        let listed = try await durableTool(["ls", "--json", "--limit", "1000", "--db", url])
        let tasks = try listed.lines.map { line in
            try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
        }
        #expect(tasks.count == count, "\(listed)")
        #expect(tasks.allSatisfy { $0["status"] as? String == "succeeded" && $0["attempt"] as? Int == 1 }, "\(listed)")
        #expect(Set(tasks.compactMap { $0["job"] as? String }).count == 1, "\(listed)")
    }

    @Test("--batch NAME keeps a batch across edits and paths; without it an edited copy is another batch")
    func namedBatch() async throws {
        let directory = TemporaryDirectory()
        let url = try postgresURL()
        let first = directory.file("jobs.txt")
        try write("echo a\necho b\n", to: first)
        let run = try await durableTool(["run", first, "--batch", "nightly", "--db", url])
        #expect(run.status == 0 && Set(run.lines) == ["a", "b"], "\(run)")

        // Another path, a line added: only the new line runs.
        let edited = directory.file("edited.txt")
        try write("echo a\necho c\necho b\n", to: edited)
        let again = try await durableTool(["run", edited, "--batch", "nightly", "--db", url])
        #expect(again.status == 0 && again.lines == ["c"], "\(again)")
        #expect(again.standardError.contains("(2 already done before this run)"), "\(again)")
        let listed = try await durableTool(["ls", "--queue", "run:nightly", "--db", url])
        #expect(listed.lines.count == 4, "\(listed)")
        let byOldName = try await durableTool(["ls", "--job", "run:nightly", "--db", url])
        #expect(byOldName.lines == listed.lines, "\(byOldName)")

        // Without --batch, the edited file is a batch of its own: all of it runs.
        let unnamed = try await durableTool(["run", edited, "--db", url])
        #expect(unnamed.status == 0 && unnamed.lines.count == 3, "\(unnamed)")
        let row = try #require(
            try await durableTool(["ls", "--json", "--job", edited, "--db", url]).lines.first.flatMap {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            })
        #expect(row["job"] as? String == "durable.run", "\(row)")
        #expect((row["queue"] as? String)?.hasPrefix("run:edited.txt@") == true, "\(row)")
    }
}
