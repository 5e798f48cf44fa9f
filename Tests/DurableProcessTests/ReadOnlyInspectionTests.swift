import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// Inspection opens the file read-only: it reads files the user cannot write and
/// never waits for another process's write lock. (Tests run as root, whom
/// permission bits do not stop: the immutable attribute, `chattr +i`, does.)
@Suite("Inspecting a file read-only", .serialized)
struct ReadOnlyInspectionTests {
    /// `durable ls`, `show`, `stats`, `schema` and `watch` on `path`, by command.
    /// Lines that count tasks finished in the last minute are left out, as they
    /// change with time.
    private func inspect(_ path: String, _ extra: [String] = []) async throws -> [String: DurableToolOutput] {
        let commands: [String: [String]] = [
            "ls": ["ls"], "ls --json": ["ls", "--json"], "show": ["show", "4"], "stats": ["stats"],
            "schema": ["schema"], "watch": ["watch", "--interval", "10ms"],
        ]
        var outputs: [String: DurableToolOutput] = [:]
        for (name, arguments) in commands {
            var output = try await runDurableTool(arguments + ["--db", path] + extra)
            output.standardOutput = output.standardOutput
                .replacingOccurrences(of: #"(, )?\d+ finished in the last minute.*"#, with: "", options: .regularExpression)
            outputs[name] = output
        }
        return outputs
    }

    /// Every command succeeded and printed what it printed in `expected`.
    private func expectSame(_ outputs: [String: DurableToolOutput], as expected: [String: DurableToolOutput]) {
        for (name, output) in outputs.sorted(by: { $0.key < $1.key }) {
            #expect(output.status == 0, "\(name): \(output.standardError)")
            #expect(output.standardError.isEmpty, "\(name): \(output.standardError)")
            #expect(output.standardOutput == expected[name]?.standardOutput, "\(name)")
            #expect(!output.standardOutput.isEmpty, "\(name) printed nothing")
        }
    }

    /// A populated file with nothing pending (so that `watch` ends), closed: no
    /// -wal or -shm beside it.
    private func finishedDatabase(_ directory: TemporaryDirectory) async throws -> String {
        let (path, engine) = try await InspectionCommandTests().populated(directory)
        _ = try await engine.cancelPendingTasks()
        try engine.close()
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        return path
    }

    @Test("ls, show, stats, schema and watch read a file that cannot be written and print what they print otherwise")
    func immutableFile() async throws {
        let directory = TemporaryDirectory()
        let path = try await finishedDatabase(directory)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let writable = try await inspect(path)
        // Reading a writable file changes nothing in it, and leaves no -wal or -shm behind.
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
        #expect(!FileManager.default.fileExists(atPath: path + "-wal"))
        #expect(!FileManager.default.fileExists(atPath: path + "-shm"))
        try #require(runCommand("/usr/bin/chattr", ["+i", path]).status == 0, "chattr +i must work on the test folder's filesystem")
        defer { _ = runCommand("/usr/bin/chattr", ["-i", path]).status }
        await expectSame(try inspect(path), as: writable)
        let cancel = try await runDurableTool(["cancel", "--db", path, "--status", "pending"])
        #expect(cancel.status != 0 && cancel.standardError.contains("cannot be written"))
        _ = runCommand("/usr/bin/chattr", ["-i", path]).status
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("in a folder that cannot be written, a file is read while its -wal and -shm exist; without them the error says why")
    func immutableFolder() async throws {
        let directory = TemporaryDirectory()
        let path = try await finishedDatabase(directory)
        let writable = try await inspect(path)
        // A process that has the file open keeps its -wal and -shm.
        let holder = try DatabaseQueue(path: path)
        try await holder.read { db in _ = try Int.fetchOne(db, sql: "SELECT count(*) FROM durable_tasks") }
        try #require(runCommand("/usr/bin/chattr", ["+i", directory.path]).status == 0, "chattr +i must work on the test folder")
        defer { _ = runCommand("/usr/bin/chattr", ["-i", directory.path]).status }
        await expectSame(try inspect(path), as: writable)

        _ = runCommand("/usr/bin/chattr", ["-i", directory.path]).status
        try holder.close()
        try #require(!FileManager.default.fileExists(atPath: path + "-wal"))
        try #require(runCommand("/usr/bin/chattr", ["+i", directory.path]).status == 0)
        let refused = try await runDurableTool(["ls", "--db", path])
        #expect(refused.status != 0)
        #expect(refused.standardError.contains(path))
        #expect(refused.standardError.contains("-wal") && refused.standardError.contains("folder"), "\(refused.standardError)")
        #expect(refused.standardError.split(separator: "\n").count == 1)
    }

    @Test("inspection while another connection holds the write lock reads at once instead of waiting for it")
    func writeLockHeld() async throws {
        let directory = TemporaryDirectory()
        let path = try await finishedDatabase(directory)
        let expected = try await inspect(path)
        var holding = Configuration()
        holding.allowsUnsafeTransactions = true
        let holder = try DatabaseQueue(path: path, configuration: holding)
        try await holder.writeWithoutTransaction { db in
            try db.execute(sql: "BEGIN IMMEDIATE")
            try db.execute(sql: "UPDATE durable_tasks SET name = 'changed, not committed'")
        }
        // Waiting for the lock would fail after 300 ms with "stayed locked".
        let during = try await inspect(path, ["--lock-timeout", "300ms"])
        try await holder.writeWithoutTransaction { db in try db.execute(sql: "ROLLBACK") }
        try holder.close()
        expectSame(during, as: expected)
    }
}
