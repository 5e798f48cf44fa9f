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
            "SELECT status, \(lineNumber) AS line, result FROM durable_tasks ORDER BY id")
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
            FROM durable_task_attempts AS a JOIN durable_tasks AS t ON t.id = a.task_id ORDER BY line, a.attempt
            """
        ).map { "\($0["line"] as Int):\($0["attempt"] as Int):\($0["outcome"] as String)" }
        #expect(
            attempts == ["1:1:succeeded", "2:1:failed", "2:2:failed", "2:3:failed", "3:1:failed", "3:2:succeeded"],
            "--retries 2 means three attempts in all")
        let error = try probe.strings("SELECT json_extract(error, '$.message') FROM durable_tasks WHERE status = 'failed'")
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
        #expect(try probe.int("SELECT count(*) FROM durable_task_attempts") == 6)

        // --retry-failed runs the failed line again, and only that one.
        try touch(fixed)
        let retried = try await runDurable(["run", file, "--db", db, "--retry-failed"], in: directory)
        #expect(retried.status == 0, "\(retried)")
        #expect(retried.outputLines == ["repaired"], "only what runs now is printed: \(retried)")
        #expect(
            retried.errorLines.last?.hasPrefix(
                "durable run: 3 succeeded, 0 failed (2 already done before this run) in ")
                == true, "\(retried)")
        #expect(try probe.int("SELECT count(*) FROM durable_task_attempts") == 7)
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
            try probe.strings("SELECT json_extract(error, '$.kind') FROM durable_tasks WHERE status = 'failed'") == ["timeout"])
        // The shell's child was in the line's process group: it was stopped too.
        let sleeper = try #require(
            Int32(try String(contentsOfFile: pidFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)))
        try await poll("the timed-out line's sleep 60 has ended") { kill(sleeper, 0) != 0 || isZombie(sleeper) }
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
