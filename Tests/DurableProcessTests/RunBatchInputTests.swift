import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// `durable run` runs each line's exact text, or refuses the batch: never a
/// different command than the one written.
@Suite("durable run: the exact bytes of each line")
struct RunBatchInputTests {
    @Test(
        "a line that no command can carry unchanged refuses the batch with its line number; nothing is stored or run",
        arguments: [
            (Array("echo one\ntouch caf".utf8) + [0xE9] + Array(".txt\n".utf8), "line 2", "not valid UTF-8"),
            (Array("echo a".utf8) + [0] + Array("b > f\n".utf8), "line 1", "NUL byte"),
            ((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }, "line", "commands.txt"),
        ])
    func refused(bytes: [UInt8], line: String, reason: String) async throws {
        let directory = TemporaryDirectory()
        let file = directory.file("commands.txt")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let database = directory.file("run.sqlite")
        let result = try await runDurableTool(["run", file, "--db", database])
        #expect(result.status == 2, "\(result)")
        #expect(result.standardError.contains(line) && result.standardError.contains(reason), "\(result)")
        #expect(result.standardError.contains("nothing was stored or run"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: database))
        #expect(!FileManager.default.fileExists(atPath: directory.file("café.txt")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("f")))
    }

    @Test("unicode, quotes and CRLF endings run as written")
    func exactText() async throws {
        let directory = TemporaryDirectory()
        let out = directory.file("out")
        let file = directory.file("commands.txt")
        let lines = ["printf '%s\\n' 'café ☕ \"quoted\"' >> \(out)\r", "printf '%s\\n' \"it's\" >> \(out)"]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: file))
        let result = try await runDurableTool(["run", file, "--db", directory.file("run.sqlite"), "-j", "1", "--quiet"])
        #expect(result.status == 0, "\(result)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "café ☕ \"quoted\"\nit's\n")
    }
}

/// One convention across commands.
@Suite("durable: conventions across commands")
struct CommandConventionTests {
    @Test("--db naming a directory says so, in every kind of command")
    func databaseIsADirectory() async throws {
        let directory = TemporaryDirectory()
        let list = directory.file("urls.txt")
        try Data("http://127.0.0.1:9/x\n".utf8).write(to: URL(fileURLWithPath: list))
        let commands = directory.file("commands.txt")
        try Data("true\n".utf8).write(to: URL(fileURLWithPath: commands))
        for arguments in [
            ["ls", "--db", directory.path], ["stats", "--db", directory.path],
            ["run", commands, "--db", directory.path], ["fetch", list, "--out", directory.file("o"), "--db", directory.path],
        ] {
            let result = try await runDurableTool(arguments)
            #expect(result.status == 2, "bad input exits 2 in every command: \(arguments): \(result)")
            #expect(result.standardError.contains("\(directory.path) is a directory"), "\(arguments): \(result)")
        }
    }

    @Test("fetch takes -q and durations with units for --timeout and --retry-delay")
    func fetchOptions() async throws {
        let directory = TemporaryDirectory()
        let list = directory.file("urls.txt")
        // A refused connection: the run ends quickly, with one failed URL.
        try Data("http://127.0.0.1:9/x\n".utf8).write(to: URL(fileURLWithPath: list))
        let result = try await runDurableTool([
            "fetch", list, "--out", directory.file("out.tsv"), "--db", directory.file("f.sqlite"), "-q",
            "--timeout", "10s", "--retry-delay", "250ms", "--retries", "0",
        ])
        #expect(result.status == 1, "\(result)")
        #expect(result.standardError.contains("0 of 1 URLs fetched, 1 failed"), "\(result)")
        let refused = try await runDurableTool(["fetch", list, "--out", directory.file("out.tsv"), "--timeout", "2d"])
        #expect(refused.status != 0 && refused.standardError.contains("--timeout"), "\(refused)")
    }
}

/// How `durable run` knows a line again: by its text and occurrence.
@Suite("durable run: a line is its text and occurrence")
struct RunLineIdentityTests {
    @Test("inserting, deleting and moving lines re-runs nothing that finished; a repeated line is its own line")
    func editedFile() async throws {
        let directory = TemporaryDirectory()
        let log = directory.file("log")
        let database = directory.file("run.sqlite")
        let file = directory.file("commands.txt")
        func run(_ lines: [String]) async throws -> DurableToolOutput {
            try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: file))
            return try await runDurableTool(["run", file, "--db", database, "-j", "1", "--quiet"])
        }
        let a = "echo a >> \(log)"
        let b = "echo b >> \(log)"
        let c = "echo c >> \(log)"
        #expect(try await run([a, b, a, c]).status == 0)
        #expect(try lines(of: log) == ["a", "b", "a", "c"])

        // A comment on top (a line of its own, which runs), lines moved, one
        // deleted: nothing that finished runs again.
        let moved = try await run(["# a comment", "", c, a, b])
        #expect(moved.status == 0, "\(moved)")
        #expect(moved.standardError.contains("4 succeeded, 0 failed (3 already done before this run)"), "\(moved)")
        #expect(try lines(of: log) == ["a", "b", "a", "c"])

        // The repeated line back, and a third copy: only the third runs.
        let third = try await run([a, a, a, b, c])
        #expect(third.status == 0, "\(third)")
        #expect(try lines(of: log) == ["a", "b", "a", "c", "a"])
    }
}

extension RunLineIdentityTests {
    @Test("lines finished by an older build, which knew a line by its number, are not run again while they stay put")
    func olderBuildsTasks() async throws {
        let directory = TemporaryDirectory()
        let log = directory.file("log")
        let database = directory.file("run.sqlite")
        let file = directory.file("commands.txt")
        let commands = ["echo a >> \(log)", "echo b >> \(log)"]
        try Data((commands.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: file))
        #expect(try await runDurableTool(["run", file, "--db", database, "--quiet"]).status == 0)
        // What an older build stored: keys and inputs by line number.
        let queue = try DatabaseQueue(path: database)
        try await queue.write { db in
            try db.execute(
                sql: """
                    UPDATE durable_tasks SET
                        key = json_extract(input, '$.file') || ':' || CAST(substr(name, 6, instr(name, ':') - 6) AS INTEGER)
                            || ':' || json_extract(input, '$.command'),
                        input = json_object('file', json_extract(input, '$.file'),
                                            'line', CAST(substr(name, 6, instr(name, ':') - 6) AS INTEGER),
                                            'command', json_extract(input, '$.command'))
                    """)
        }
        try queue.close()
        let again = try await runDurableTool(["run", file, "--db", database, "--quiet"])
        #expect(again.status == 0, "\(again)")
        #expect(again.standardError.contains("2 succeeded, 0 failed (2 already done before this run)"), "\(again)")
        #expect(try lines(of: log).sorted() == ["a", "b"])
    }
}

extension RunLineIdentityTests {
    @Test("--dry-run tells which lines are done, failed or would run, and changes nothing")
    func dryRun() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("run.sqlite")
        let file = directory.file("commands.txt")
        try Data("true\nfalse\n".utf8).write(to: URL(fileURLWithPath: file))
        let before = try await runDurableTool(["run", file, "--db", database, "--dry-run"])
        #expect(before.status == 0, "\(before)")
        #expect(before.lines.last?.contains("2 would run") == true, "\(before)")
        #expect(!FileManager.default.fileExists(atPath: database))

        #expect(try await runDurableTool(["run", file, "--db", database, "--quiet"]).status == 1)
        try Data("true\nfalse\necho new\n".utf8).write(to: URL(fileURLWithPath: file))
        let stored = try Data(contentsOf: URL(fileURLWithPath: database))
        let after = try await runDurableTool(["run", file, "--db", database, "--dry-run"])
        #expect(after.status == 0, "\(after)")
        #expect(after.lines.prefix(3) == ["line 1: succeeded: true", "line 2: failed: false", "line 3: would run: echo new"])
        #expect(after.lines.last?.contains("a run would run 1 (--retry-failed: also the 1 failed") == true, "\(after)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: database)) == stored)
    }
}

extension RunLineIdentityTests {
    @Test("a rerun's --timeout and --retries apply to lines that have not succeeded, and it says so")
    func changedFlags() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("run.sqlite")
        let file = directory.file("commands.txt")
        // A wide margin on both sides: "echo quick" must not time out on a loaded machine.
        try Data("sleep 3; echo slow\necho quick\n".utf8).write(to: URL(fileURLWithPath: file))
        let first = try await runDurableTool(["run", file, "--db", database, "--timeout", "1s", "--quiet"])
        #expect(first.status == 1, "\(first)")
        let second = try await runDurableTool(["run", file, "--db", database, "--timeout", "60s", "--retry-failed", "--quiet"])
        #expect(second.status == 0, "\(second)")
        #expect(second.standardError.contains("1 line(s) from an earlier run now use this run's --timeout"), "\(second)")
        #expect(second.standardOutput.contains("slow"), "\(second)")
    }
}

/// `durable run` passes its lines' output through: every byte, unchanged.
@Suite("durable run: output passed through")
struct RunOutputTests {
    @Test("every byte of a line's output is passed through, grouped per line, and kept whole with --results")
    func wholeOutput() async throws {
        let directory = TemporaryDirectory()
        let file = directory.file("commands.txt")
        let results = directory.file("results")
        // 300 KB of output, and bytes that are not UTF-8.
        let lines = [
            "head -c 300000 /dev/zero | tr '\\0' 'x'; echo",
            "printf 'caf\\351\\n'; printf 'err\\n' >&2",
        ]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: file))
        let out = directory.file("stdout")
        let err = directory.file("stderr")
        let child = try SpawnedProcess(
            try ChildProcess.durableExecutable().path,
            ["run", file, "--db", directory.file("run.sqlite"), "-j", "2", "--quiet", "--keep-order", "--results", results],
            output: out, error: err)
        let (status, _) = try await child.waitForExit()
        #expect(status == 0, "\((try? String(contentsOfFile: err, encoding: .utf8)) ?? "")")
        let printed = try Data(contentsOf: URL(fileURLWithPath: out))
        let expected = Data(repeating: UInt8(ascii: "x"), count: 300_000) + Data("\n".utf8) + Data([0x63, 0x61, 0x66, 0xE9, 0x0A])
        // Compared outside #expect: a failure would describe 300 KB twice.
        let same = printed == expected
        #expect(same, "printed \(printed.count) bytes, expected \(expected.count)")
        #expect(try String(contentsOfFile: err, encoding: .utf8).contains("err\n"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: results + "/line-1.stdout")).count == 300_001)
        #expect(try Data(contentsOf: URL(fileURLWithPath: results + "/line-2.stdout")) == Data([0x63, 0x61, 0x66, 0xE9, 0x0A]))
        #expect(try Data(contentsOf: URL(fileURLWithPath: results + "/line-2.stderr")) == Data("err\n".utf8))
    }

    @Test("--line-buffer passes whole lines through as they come")
    func lineBuffered() async throws {
        let directory = TemporaryDirectory()
        let file = directory.file("commands.txt")
        try Data("printf 'a\\nb'; sleep 0.1; printf 'c\\n'\n".utf8).write(to: URL(fileURLWithPath: file))
        let result = try await runDurableTool(["run", file, "--db", directory.file("run.sqlite"), "--line-buffer", "--quiet"])
        #expect(result.status == 0, "\(result)")
        #expect(result.standardOutput == "a\nbc\n")
        let refused = try await runDurableTool(["run", file, "--line-buffer", "--keep-order"])
        #expect(refused.status != 0 && refused.standardError.contains("cannot go together"), "\(refused)")
    }
}

extension RunOutputTests {
    @Test("--joblog writes one tab-separated row per line: status, exit, signal, seconds, attempts, command")
    func joblog() async throws {
        let directory = TemporaryDirectory()
        let file = directory.file("commands.txt")
        try Data("true\nexit 3\nkill -9 $$\n".utf8).write(to: URL(fileURLWithPath: file))
        let log = directory.file("joblog.tsv")
        let result = try await runDurableTool(["run", file, "--db", directory.file("run.sqlite"), "--joblog", log, "-q"])
        #expect(result.status == 1, "\(result)")
        let rows = try lines(of: log).map { $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init) }
        #expect(rows.first == ["line", "status", "exit", "signal", "seconds", "attempts", "command"])
        #expect(rows.count == 4)
        #expect(rows.dropFirst().map { [$0[0], $0[1], $0[2], $0[3], $0[5], $0[6]] } == [
            ["1", "succeeded", "0", "", "1", "true"], ["2", "failed", "3", "", "1", "exit 3"],
            ["3", "failed", "", "9", "1", "kill -9 $$"],
        ])
        #expect(rows.dropFirst().allSatisfy { Double($0[4]) != nil })
    }
}

extension CommandConventionTests {
    @Test("show, cancel and retry take FILE:LINE for a line's task; --job takes the batch file")
    func lineHandles() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("run.sqlite")
        let file = directory.file("jobs.txt")
        try Data("true\nexit 7\n".utf8).write(to: URL(fileURLWithPath: file))
        #expect(try await runDurableTool(["run", file, "--db", database, "--quiet"]).status == 1)
        let shown = try await runDurableTool(["show", "\(file):2", "--db", database, "--json"])
        #expect(shown.status == 0, "\(shown)")
        #expect(shown.standardOutput.contains("\"status\":\"failed\""), "\(shown)")
        let listed = try await runDurableTool(["ls", "--db", database, "--job", file, "--json"])
        #expect(listed.lines.count == 2, "\(listed)")
        let retried = try await runDurableTool(["retry", "\(file):2", "--db", database])
        #expect(retried.status == 0 && retried.standardOutput.contains("\(file):2: pending again"), "\(retried)")
        let cancelled = try await runDurableTool(["cancel", "\(file):2", "--db", database])
        #expect(cancelled.standardOutput.contains("\(file):2: cancelled"), "\(cancelled)")
        let missing = try await runDurableTool(["show", "\(file):9", "--db", database])
        #expect(missing.status == 2 && missing.standardError.contains("no task of line 9"), "\(missing)")
    }
}

extension CommandConventionTests {
    @Test("watch ends cleanly on Ctrl-C with 130")
    func watchInterrupted() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("jobs.sqlite")
        let engine = try TaskEngine(path: database, logger: testLogger)
        _ = try await engine.createTask(CrashWork.self, 1)
        try engine.close()
        let watch = try ChildProcess(
            "watch", executable: try ChildProcess.durableExecutable(),
            arguments: ["watch", "--db", database, "--interval", "50ms"], output: directory.file("watch.out"))
        try await poll("watch prints", child: watch) { watch.fullOutput.contains("pending 1") }
        kill(watch.pid, SIGINT)
        let (status, signalled) = try await watch.waitForExit(timeout: .seconds(30))
        #expect(!signalled && status == 130, "\(watch.fullOutput)")
    }
}
