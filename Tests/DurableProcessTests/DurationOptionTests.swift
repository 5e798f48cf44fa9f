import DurableTestKit
import Durable
import Foundation
import Testing

/// The built `durable` binary given durations it cannot use (infinite, NaN,
/// negative, far too long): one error line naming the option, the exit status
/// of a bad argument, no crash, and the database untouched.
@Suite("durable: bad durations")
struct DurationOptionTests {
    /// A closed database with one pending task, and a file of one command.
    private func prepared(_ directory: TemporaryDirectory) async throws -> (db: String, commands: String) {
        let engine = try makeEngine(in: directory)
        _ = try await engine.createTask(Echo.self, "stored", name: "kept")
        try engine.close()
        let commands = directory.file("commands.txt")
        try Data("echo never-run\n".utf8).write(to: URL(fileURLWithPath: commands))
        return (directory.file("test.sqlite"), commands)
    }

    /// The names and contents of every file in the directory.
    private func snapshot(_ directory: TemporaryDirectory) throws -> [String: Data] {
        var files: [String: Data] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) {
            files[name] = try Data(contentsOf: URL(fileURLWithPath: directory.file(name)))
        }
        return files
    }

    @Test(
        "each bad duration gives one error line naming the option, a bad-argument exit, and changes nothing",
        arguments: [
            (["ls", "--since", "infs"], "--since"),
            (["ls", "--since", "inf"], "--since"),
            (["ls", "--since", "1e300s"], "--since"),
            (["ls", "--since", "nan"], "--since"),
            (["ls", "--since=-5m"], "--since"),
            (["ls", "--since", "36501d"], "--since"),
            (["ls", "--lock-timeout", "1e300s"], "--lock-timeout"),
            (["stats", "--lock-timeout", "infs"], "--lock-timeout"),
            (["prune", "--finished-before", "1e300d"], "--finished-before"),
            (["prune", "--finished-before", "nan"], "--finished-before"),
            (["watch", "--interval", "1e300s"], "--interval"),
            (["run", "COMMANDS", "--timeout", "1e300s"], "--timeout"),
            (["run", "COMMANDS", "--timeout", "1e-400s"], "--timeout"),
            (["run", "COMMANDS", "--timeout=-1s"], "--timeout"),
            (["run", "COMMANDS", "--lock-timeout", "1e300s"], "--lock-timeout"),
        ])
    func refused(arguments: [String], option: String) async throws {
        let directory = TemporaryDirectory()
        let (db, commands) = try await prepared(directory)
        let before = try snapshot(directory)
        let output = try await runDurableTool(arguments.map { $0 == "COMMANDS" ? commands : $0 } + ["--db", db])
        let shown = "status \(output.status)\n\(output.standardError)"
        // 1: a command's error, 2: `run` could not start, 64: ArgumentParser's bad argument;
        // never a signal (SIGILL is 4, SIGABRT 6) or a crash report.
        #expect([1, 2, 64].contains(output.status), "\(shown)")
        #expect(!output.standardError.contains("Fatal error") && !output.standardError.contains("crashed"), "\(shown)")
        let errors = output.standardError.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        #expect(errors.count == 1, "\(shown)")
        #expect(errors.first?.contains(option) == true, "\(shown)")
        #expect(output.standardOutput.isEmpty, "\(output.standardOutput)")
        // Parsing comes before opening: the database and its folder are exactly as they were.
        #expect(try snapshot(directory) == before)
    }

    @Test("the longest accepted duration works, and the message says what is accepted")
    func boundary() async throws {
        let directory = TemporaryDirectory()
        let (db, _) = try await prepared(directory)
        let all = try await runDurableTool(["ls", "--db", db, "--since", "36500d"])
        #expect(all.status == 0, "\(all.standardError)")
        #expect(all.lines.count == 2 && all.lines[1].contains("kept"), "\(all.standardOutput)")
        let tooLong = try await runDurableTool(["ls", "--db", db, "--since", "1e300s"])
        #expect(tooLong.standardError.contains("at most 36500d"), "\(tooLong.standardError)")
        let garbage = try await runDurableTool(["ls", "--db", db, "--since", "soon"])
        #expect(garbage.standardError.contains("250ms, 90s, 15m, 12h or 7d"), "\(garbage.standardError)")
        #expect(garbage.standardError.split(separator: "\n").count == 1, "\(garbage.standardError)")
    }
}
