import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `durable run FILE` run as a user would: the built binary, real shell commands,
/// SIGKILL, Ctrl-C (SIGINT) once and twice, re-runs and bad input. Waits are
/// decided by polling files and the database, never by elapsed time.
@Suite("durable run", .serialized)
struct RunCommandTests {
    @Test("a small batch succeeds: every line's output, a summary, exit 0")
    func smallBatch() async throws {
        let directory = TemporaryDirectory()
        let file = try writeCommands(
            ["echo alpha", "", "  ", "echo beta; echo note >&2", "printf 'gamma\\n'"], in: directory)
        let db = directory.file("run.sqlite")

        let result = try await runDurable(["run", file, "--db", db, "-j", "2"], in: directory)
        #expect(result.status == 0, "\(result)")
        #expect(Set(result.outputLines) == ["alpha", "beta", "gamma"], "\(result)")
        #expect(result.errorLines.last?.hasPrefix("durable run: 3 succeeded, 0 failed in ") == true, "\(result)")
        #expect(result.errorLines.contains("note"), "the standard error of every line run now is passed through")

        let probe = try DatabaseProbe(path: db)
        let rows = try probe.rows(
            "SELECT status, \(lineNumber) AS line, result FROM tasks ORDER BY id")
        #expect(rows.map { $0["status"] as String } == ["succeeded", "succeeded", "succeeded"])
        #expect(rows.map { $0["line"] as Int } == [1, 4, 5], "line numbers count blank lines")
        let outcome = try JSONDecoder().decode(StoredOutcome.self, from: Data((rows[1]["result"] as String).utf8))
        #expect(outcome.exitCode == 0)
        #expect(outcome.stdoutTail == "beta\n")
        #expect(outcome.stderrTail == "note\n")
    }

    @Test("a failing line fails the batch with exit 1; --retries runs a failing line again until it succeeds")
    func failuresAndRetries() async throws {
        let directory = TemporaryDirectory()
        let marker = directory.file("marker")
        let fixed = directory.file("fixed")
        let file = try writeCommands(
            [
                "echo fine",
                "if [ -f '\(fixed)' ]; then echo repaired; else echo partial; echo broken >&2; exit 4; fi",
                "if [ -f '\(marker)' ]; then echo recovered; else touch '\(marker)'; echo first >&2; exit 5; fi",
            ], in: directory)
        let db = directory.file("run.sqlite")

        let result = try await runDurable(["run", file, "--db", db, "--retries", "2"], in: directory)
        #expect(result.status == 1, "\(result)")
        #expect(Set(result.outputLines) == ["fine", "partial", "recovered"], "\(result)")
        #expect(result.standardError.contains("durable run: line 2 failed (exit status 4): if [ -f "), "\(result)")
        #expect(result.errorLines.contains("broken"), "\(result)")
        #expect(!result.errorLines.contains("first"), "the flaky line ended well: its first failure is not printed")
        #expect(result.errorLines.last?.hasPrefix("durable run: 2 succeeded, 1 failed in ") == true, "\(result)")

        let probe = try DatabaseProbe(path: db)
        let attempts = try probe.rows(
            """
            SELECT \(lineNumberSQL(of: "t")) AS line, t.status, a.attempt, a.outcome
            FROM task_attempts AS a JOIN tasks AS t ON t.id = a.task_id ORDER BY line, a.attempt
            """
        ).map { "\($0["line"] as Int):\($0["attempt"] as Int):\($0["outcome"] as String)" }
        #expect(
            attempts == ["1:1:succeeded", "2:1:failed", "2:2:failed", "2:3:failed", "3:1:failed", "3:2:succeeded"],
            "--retries 2 means three attempts in all")
        let error = try probe.strings("SELECT json_extract(error, '$.message') FROM tasks WHERE status = 'failed'")
        #expect(error.count == 1)
        #expect(error.first?.hasPrefix("exit status 4 after ") == true)
        #expect(error.first?.contains("broken") == true, "the stored error keeps the stderr tail")

        // Run again with --replay: nothing runs, and the stored output and failure are reported.
        let again = try await runDurable(["run", file, "--db", db, "--retries", "2", "--replay"], in: directory)
        #expect(again.status == 1, "\(again)")
        #expect(Set(again.outputLines) == ["fine", "partial", "recovered"], "\(again)")
        #expect(again.errorLines.contains("broken"), "\(again)")
        #expect(
            again.errorLines.last?.hasPrefix("durable run: 2 succeeded, 1 failed (3 already done before this run) in ")
                == true, "\(again)")
        #expect(try probe.int("SELECT count(*) FROM task_attempts") == 6)

        // --retry-failed runs the failed line again, and only that one.
        try touch(fixed)
        let retried = try await runDurable(["run", file, "--db", db, "--retry-failed"], in: directory)
        #expect(retried.status == 0, "\(retried)")
        #expect(retried.outputLines == ["repaired"], "only what runs now is printed: \(retried)")
        #expect(
            retried.errorLines.last?.hasPrefix(
                "durable run: 3 succeeded, 0 failed (2 already done before this run) in ")
                == true, "\(retried)")
        #expect(try probe.int("SELECT count(*) FROM task_attempts") == 7)
    }

    @Test("--timeout stops a line that runs too long, with its child processes, and the line fails")
    func timeout() async throws {
        let directory = TemporaryDirectory()
        let pidFile = directory.file("sleep.pid")
        let file = try writeCommands(["sleep 60 & echo $! > '\(pidFile)'; wait", "echo quick"], in: directory)
        let db = directory.file("run.sqlite")

        let result = try await runDurable(["run", file, "--db", db, "--timeout", "1s"], in: directory)
        #expect(result.status == 1, "\(result)")
        #expect(result.outputLines == ["quick"], "\(result)")
        #expect(
            result.standardError.contains("durable run: line 1 failed (attempt 1 timed out after 1000 ms)"), "\(result)"
        )
        #expect(result.errorLines.last?.hasPrefix("durable run: 1 succeeded, 1 failed in ") == true, "\(result)")

        let probe = try DatabaseProbe(path: db)
        #expect(
            try probe.strings("SELECT json_extract(error, '$.kind') FROM tasks WHERE status = 'failed'") == ["timeout"])
        // The shell's child was in the line's process group: it was stopped too.
        let sleeper = try #require(
            Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try await waitUntil("the timed-out line's sleep 60 has ended") { kill(sleeper, 0) != 0 || isZombie(sleeper) }
    }

    @Test("a batch killed with SIGKILL and run again runs every line at least once and records each once")
    func resumesAfterSIGKILL() async throws {
        let directory = TemporaryDirectory()
        let log = directory.file("log")
        let count = 200
        let file = try writeCommands((1...count).map { "sleep 0.02; echo \($0) >> '\(log)'" }, in: directory)
        let db = directory.file("run.sqlite")

        let first = try RunningDurable(["run", file, "--db", db, "-j", "4", "--quiet"], in: directory)
        var probe: DatabaseProbe?
        try await waitUntil("50 lines succeeded", process: first) {
            guard FileManager.default.fileExists(atPath: db) else { return false }
            if probe == nil { probe = try DatabaseProbe(path: db) }
            // Before its schema is in place, the file has no tasks table yet.
            return ((try? probe?.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'")) ?? 0) >= 50
        }
        try await first.killAndWait(SIGKILL)
        let database = try #require(probe)
        let succeededBefore = Set(
            try database.ids("SELECT \(lineNumber) FROM tasks WHERE status = 'succeeded'").map(Int.init)
        )
        #expect(succeededBefore.count >= 50)
        #expect(succeededBefore.count < count, "the batch was killed mid-way")

        let second = try await runDurable(["run", file, "--db", db, "-j", "4"], in: directory)
        #expect(second.status == 0, "\(second)")
        #expect(
            second.errorLines.last?.hasPrefix(
                "durable run: \(count) succeeded, 0 failed (\(succeededBefore.count) already done before this run) in ")
                == true, "\(second)")

        let runs = try lineCounts(of: log)
        #expect(Set(runs.keys) == Set(1...count), "every line ran at least once")
        for line in succeededBefore {
            #expect(runs[line] == 1, "line \(line) had succeeded before the kill and ran again")
        }
        #expect(try database.int("SELECT count(*) FROM tasks") == count, "one task per line")
        #expect(try database.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'") == count)
        #expect(
            try database.int(
                "SELECT count(*) FROM (SELECT task_id FROM task_attempts WHERE outcome = 'succeeded' GROUP BY task_id HAVING count(*) = 1)"
            ) == count, "every line recorded exactly once as succeeded")
        #expect(try database.int("SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded'") == count)
        #expect(try database.integrityCheck() == ["ok"])
    }

    @Test("running a finished batch again runs nothing; --replay prints the stored output, in file order with --keep-order")
    func rerunOfFinishedBatch() async throws {
        let directory = TemporaryDirectory()
        let log = directory.file("log")
        let file = try writeCommands(
            (1...6).map { "echo \($0) >> '\(log)'; sleep 0.0\(6 - $0); echo line \($0); echo detail \($0)" },
            in: directory)
        let db = directory.file("run.sqlite")

        let first = try await runDurable(["run", file, "--db", db, "-j", "3", "--keep-order"], in: directory)
        #expect(first.status == 0, "\(first)")
        let expected = (1...6).flatMap { ["line \($0)", "detail \($0)"] }
        #expect(first.outputLines == expected, "\(first)")

        let second = try await runDurable(
            ["run", file, "--db", db, "-j", "3", "--keep-order", "--replay"], in: directory)
        #expect(second.status == 0, "\(second)")
        #expect(second.standardOutput == first.standardOutput)
        #expect(
            second.errorLines.last?.hasPrefix("durable run: 6 succeeded, 0 failed (6 already done before this run) in ")
                == true, "\(second)")

        let third = try await runDurable(["run", file, "--db", db], in: directory)
        #expect(third.status == 0, "\(third)")
        #expect(third.outputLines.isEmpty, "without --replay, earlier lines are only counted: \(third)")
        #expect(
            try lineCounts(of: log) == Dictionary(uniqueKeysWithValues: (1...6).map { ($0, 1) }), "nothing ran twice")
    }

    @Test("a changed line is a new task; the old version's unfinished task is cancelled, not run")
    func changedLines() async throws {
        let directory = TemporaryDirectory()
        let log = directory.file("log")
        let started = directory.file("started")
        let go = directory.file("go")
        let db = directory.file("run.sqlite")
        let first = "touch '\(started)'; while [ ! -f '\(go)' ]; do sleep 0.01; done; echo one >> '\(log)'"
        let file = try writeCommands([first, "echo two >> '\(log)'"], in: directory)

        // Line 2 never starts: Ctrl-C while line 1 runs alone.
        let interrupted = try RunningDurable(["run", file, "--db", db, "-j", "1"], in: directory)
        try await waitUntil("line 1 started", process: interrupted) { FileManager.default.fileExists(atPath: started) }
        interrupted.signal(SIGINT)
        try await waitUntil("the Ctrl-C is acknowledged", process: interrupted) {
            interrupted.standardError.contains("durable run: stopping")
        }
        try touch(go)
        #expect(try await interrupted.finish().status == 130)

        _ = try writeCommands([first, "echo TWO >> '\(log)'"], in: directory)
        let second = try await runDurable(["run", file, "--db", db, "-j", "1"], in: directory)
        #expect(second.status == 0, "\(second)")
        #expect(
            second.errorLines.last?.hasPrefix("durable run: 2 succeeded, 0 failed (1 already done before this run) in ")
                == true, "\(second)")
        #expect(try lines(of: log) == ["one", "TWO"])
        let probe = try DatabaseProbe(path: db)
        let old = try probe.rows(
            "SELECT status, json_extract(error, '$.message') AS message FROM tasks WHERE name GLOB 'line 2: echo two*'")
        #expect(old.count == 1)
        #expect(old.first?["status"] as String? == "cancelled", "\(old)")
        #expect((old.first?["message"] as String?)?.contains("is no longer in the file") == true, "\(old)")
    }

    @Test("commands can come from standard input")
    func standardInput() async throws {
        let directory = TemporaryDirectory()
        let db = directory.file("run.sqlite")
        let result = try await runDurable(
            ["run", "-", "--db", db], in: directory, input: "echo from stdin\necho $DURABLE_LINE\n")
        #expect(result.status == 0, "\(result)")
        #expect(Set(result.outputLines) == ["from stdin", "2"], "\(result)")
    }

    @Test("Ctrl-C once: no new line starts, running lines finish, exit 130; the rest runs next time")
    func interruptOnce() async throws {
        let directory = TemporaryDirectory()
        let starts = directory.file("starts")
        let go = directory.file("go")
        let file = try writeCommands(
            (1...5).map { "echo \($0) >> '\(starts)'; while [ ! -f '\(go)' ]; do sleep 0.01; done; echo out \($0)" },
            in: directory)
        let db = directory.file("run.sqlite")

        let first = try RunningDurable(["run", file, "--db", db, "-j", "2"], in: directory)
        try await waitUntil("two lines started", process: first) { try lines(of: starts).count == 2 }
        let running = Set(try lines(of: starts))
        first.signal(SIGINT)
        try await waitUntil("the first Ctrl-C is acknowledged", process: first) {
            first.standardError.contains("durable run: stopping: no new lines start")
        }
        try touch(go)
        let interrupted = try await first.finish()
        #expect(interrupted.status == 130, "\(interrupted)")
        #expect(Set(interrupted.outputLines) == Set(running.map { "out \($0)" }), "\(interrupted)")
        #expect(
            interrupted.errorLines.last?.hasPrefix(
                "durable run: interrupted: 2 succeeded, 0 failed, 3 not finished in ")
                == true, "\(interrupted)")
        #expect(try lines(of: starts).count == 2, "no line started after Ctrl-C")
        let probe = try DatabaseProbe(path: db)
        #expect(try probe.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'") == 2)
        #expect(try probe.int("SELECT count(*) FROM tasks WHERE status = 'pending'") == 3)
        #expect(try probe.int("SELECT count(*) FROM task_attempts") == 2)

        let second = try await runDurable(["run", file, "--db", db, "-j", "2"], in: directory)
        #expect(second.status == 0, "\(second)")
        #expect(
            Set(second.outputLines) == Set((1...5).map { "out \($0)" }).subtracting(running.map { "out \($0)" }),
            "only the lines run now print: \(second)")
        #expect(try lineCounts(of: starts) == Dictionary(uniqueKeysWithValues: (1...5).map { ($0, 1) }))
    }

    @Test("Ctrl-C twice: running lines are stopped and recorded as interrupted; they run again next time")
    func interruptTwice() async throws {
        let directory = TemporaryDirectory()
        let starts = directory.file("starts")
        let ends = directory.file("ends")
        let go = directory.file("go")
        let file = try writeCommands(
            (1...3).map {
                "echo \($0) >> '\(starts)'; while [ ! -f '\(go)' ]; do sleep 0.01; done; echo \($0) >> '\(ends)'"
            }, in: directory)
        let db = directory.file("run.sqlite")

        let first = try RunningDurable(["run", file, "--db", db, "-j", "2"], in: directory)
        try await waitUntil("two lines started", process: first) { try lines(of: starts).count == 2 }
        let running = Set(try lineCounts(of: starts).keys)
        first.signal(SIGINT)
        try await waitUntil("the first Ctrl-C is acknowledged", process: first) {
            first.standardError.contains("durable run: stopping: no new lines start")
        }
        first.signal(SIGINT)
        let interrupted = try await first.finish()
        #expect(interrupted.status == 130, "\(interrupted)")
        #expect(interrupted.standardError.contains("durable run: stopping running lines now"), "\(interrupted)")
        #expect(
            interrupted.errorLines.last?.hasPrefix(
                "durable run: interrupted: 0 succeeded, 0 failed, 3 not finished in ")
                == true, "\(interrupted)")
        let probe = try DatabaseProbe(path: db)
        #expect(try probe.int("SELECT count(*) FROM tasks WHERE status = 'pending'") == 3)
        let interruptedLines = Set(
            try probe.ids(
                """
                SELECT \(lineNumberSQL(of: "t")) FROM task_attempts AS a JOIN tasks AS t ON t.id = a.task_id
                WHERE a.outcome = 'interrupted'
                """
            ).map(Int.init))
        #expect(interruptedLines == running)

        try touch(go)
        let second = try await runDurable(["run", file, "--db", db, "-j", "2"], in: directory)
        #expect(second.status == 0, "\(second)")
        let startCounts = try lineCounts(of: starts)
        for line in 1...3 { #expect(startCounts[line] == (running.contains(line) ? 2 : 1), "line \(line)") }
        // The stopped lines' shells were killed: none of them saw the go file.
        #expect(try lineCounts(of: ends) == [1: 1, 2: 1, 3: 1])
    }

    @Test("bad input: one line naming the file or database, a non-zero exit, and the database unchanged")
    func badInput() async throws {
        let directory = TemporaryDirectory()
        let db = directory.file("run.sqlite")
        let file = try writeCommands(["echo stored"], in: directory)

        // A missing file creates no database.
        let missing = try await runDurable(["run", directory.file("absent.txt"), "--db", db], in: directory)
        #expect(missing.status == 2, "\(missing)")
        #expect(missing.errorLines.count == 1 && missing.standardError.contains("absent.txt"), "\(missing)")
        #expect(!FileManager.default.fileExists(atPath: db))

        let stored = try await runDurable(["run", file, "--db", db], in: directory)
        #expect(stored.status == 0, "\(stored)")
        let before = try databaseFiles(db)

        let again = try await runDurable(["run", directory.file("absent.txt"), "--db", db], in: directory)
        #expect(again.status == 2 && again.errorLines.count == 1, "\(again)")
        #expect(try databaseFiles(db) == before)

        let empty = directory.file("empty.txt")
        try touch(empty)
        let emptyResult = try await runDurable(["run", empty, "--db", db], in: directory)
        #expect(emptyResult.status == 2, "\(emptyResult)")
        #expect(emptyResult.errorLines == ["Error: \(empty) has no commands: it is empty"], "\(emptyResult)")
        #expect(try databaseFiles(db) == before)

        let blank = try writeCommands(["", "   ", ""], in: directory, name: "blank.txt")
        let blankResult = try await runDurable(["run", blank, "--db", db], in: directory)
        #expect(blankResult.status == 2 && blankResult.errorLines.count == 1, "\(blankResult)")
        #expect(blankResult.standardError.contains("blank.txt has no commands"), "\(blankResult)")

        // A file that is not a database, and another program's database.
        let notes = directory.file("notes.txt")
        try Data(String(repeating: "plain text\n", count: 100).utf8).write(to: URL(fileURLWithPath: notes))
        let notesBefore = try Data(contentsOf: URL(fileURLWithPath: notes))
        let garbage = try await runDurable(["run", file, "--db", notes], in: directory)
        #expect(garbage.status == 2 && garbage.errorLines.count == 1, "\(garbage)")
        #expect(garbage.standardError.contains("notes.txt is not an SQLite database"), "\(garbage)")
        #expect(try Data(contentsOf: URL(fileURLWithPath: notes)) == notesBefore)

        let other = directory.file("other.sqlite")
        try editDatabase(other, "CREATE TABLE inventory (item TEXT)")
        let otherBefore = try databaseFiles(other)
        let foreign = try await runDurable(["run", file, "--db", other], in: directory)
        #expect(foreign.status == 2 && foreign.errorLines.count == 1, "\(foreign)")
        #expect(
            foreign.standardError.contains("other.sqlite is an SQLite database, but not a Durable one"), "\(foreign)")
        #expect(try databaseFiles(other) == otherBefore)

        // A database written by a newer Durable.
        try editDatabase(db, "INSERT INTO durable_migrations (version, name, applied_at) VALUES (9999, 'future', 0)")
        let newerBefore = try databaseFiles(db)
        let newer = try await runDurable(["run", file, "--db", db], in: directory)
        #expect(newer.status == 2 && newer.errorLines.count == 1, "\(newer)")
        #expect(newer.standardError.contains("run.sqlite has schema version 9999"), "\(newer)")
        #expect(try databaseFiles(db) == newerBefore)
    }
}

// MARK: - Running the binary

/// What a finished `durable` process printed, and how it ended.
private struct DurableResult: CustomStringConvertible {
    var status: Int32
    var standardOutput: String
    var standardError: String

    var outputLines: [String] { standardOutput.split(separator: "\n").map(String.init) }
    var errorLines: [String] { standardError.split(separator: "\n").map(String.init) }

    var description: String {
        "status \(status)\n--- stdout ---\n\(standardOutput)\n--- stderr ---\n\(standardError)"
    }
}

/// The built `durable` binary running in a test directory, its output going to
/// files there (read while it runs). Killed if still running when released.
private final class RunningDurable: Sendable {
    let pid: Int32
    private let process: SpawnedProcess
    private let outputPath: String
    private let errorPath: String

    init(_ arguments: [String], in directory: TemporaryDirectory, input: String? = nil) throws {
        let label = UUID().uuidString
        outputPath = directory.file("durable-\(label).out")
        errorPath = directory.file("durable-\(label).err")
        var inputPath = "/dev/null"
        if let input {
            inputPath = directory.file("durable-\(label).in")
            try Data(input.utf8).write(to: URL(fileURLWithPath: inputPath))
        }
        process = try SpawnedProcess(
            try ChildProcess.durableExecutable().path, arguments,
            environment: ProcessInfo.processInfo.environment.filter { $0.key != "DURABLE_DB" },
            workingDirectory: directory.path, input: inputPath, output: outputPath, error: errorPath)
        pid = process.pid
    }

    var isRunning: Bool { process.isRunning }

    var standardError: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }

    var standardOutput: String { (try? String(contentsOfFile: outputPath, encoding: .utf8)) ?? "" }

    func signal(_ number: Int32) {
        process.signal(number)
    }

    /// Sends `signal` and waits until the process is gone.
    func killAndWait(_ number: Int32) async throws {
        signal(number)
        _ = try await finish()
    }

    /// Waits for the process to exit (60 s at most) and returns what it printed.
    func finish() async throws -> DurableResult {
        let ending: (status: Int32, signalled: Bool)
        do {
            ending = try await process.waitForExit(timeout: .seconds(60))
        } catch {
            throw TestFailure(reason: "durable (pid \(pid)) did not exit within 60 s; stderr:\n\(standardError)")
        }
        let status = ending.signalled ? 128 + ending.status : ending.status
        return DurableResult(status: status, standardOutput: standardOutput, standardError: standardError)
    }
}

/// Runs `durable` to the end.
private func runDurable(_ arguments: [String], in directory: TemporaryDirectory, input: String? = nil) async throws
    -> DurableResult
{
    try await RunningDurable(arguments, in: directory, input: input).finish()
}

/// Polls `condition` every few milliseconds; fails after 60 s, or as soon as
/// `process` (which must keep running meanwhile) has exited.
private func waitUntil(
    _ what: String, process: RunningDurable? = nil, _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + .seconds(60)
    while try await !condition() {
        if let process, !process.isRunning {
            throw TestFailure(reason: "durable exited before \(what); stderr:\n\(process.standardError)")
        }
        guard ContinuousClock.now < deadline else {
            throw TestFailure(reason: "timed out waiting until \(what)")
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

// MARK: - Files

/// Writes `commands` as the lines of a batch file and returns its path.
private func writeCommands(_ commands: [String], in directory: TemporaryDirectory, name: String = "commands.txt")
    throws -> String
{
    let path = directory.file(name)
    try Data((commands.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// Creates an empty file.
private func touch(_ path: String) throws {
    guard FileManager.default.createFile(atPath: path, contents: nil) else {
        throw TestFailure(reason: "cannot create \(path)")
    }
}

/// A database file and its WAL, byte for byte (a missing WAL is empty).
private func databaseFiles(_ path: String) throws -> [Data] {
    try [path, path + "-wal"].map { file in
        FileManager.default.fileExists(atPath: file) ? try Data(contentsOf: URL(fileURLWithPath: file)) : Data()
    }
}

/// Runs one SQL statement on a database file, then closes it.
private func editDatabase(_ path: String, _ sql: String) throws {
    let queue = try DatabaseQueue(path: path)
    try queue.write { try $0.execute(sql: sql) }
    try queue.close()
}

/// Whether `pid` is a zombie (exited, not yet reaped by its parent).
private func isZombie(_ pid: Int32) -> Bool {
    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return stat[stat.index(after: close)...].split(separator: " ").first == "Z"
}

/// A line's stored result, as `durable run` writes it.
private struct StoredOutcome: Decodable {
    var exitCode: Int32?
    var signal: Int32?
    var durationMs: Int64
    var stdoutTail: String
    var stderrTail: String
}

/// SQL for a line's number, read from its task's name ("line 12: ...").
private let lineNumber = lineNumberSQL(of: nil)

private func lineNumberSQL(of table: String?) -> String {
    let name = table.map { "\($0).name" } ?? "name"
    return "CAST(substr(\(name), 6, instr(\(name), ':') - 6) AS INTEGER)"
}
