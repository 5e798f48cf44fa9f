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

/// `durable run` killed with SIGKILL and run again, and re-runs of a finished or
/// changed batch.
extension RunCommandTests {
    @Test("a batch killed with SIGKILL and run again runs every line at least once and records each once")
    func resumesAfterSIGKILL() async throws {
        let directory = TemporaryDirectory()
        let log = directory.file("log")
        let count = 200
        let file = try writeCommands((1...count).map { "sleep 0.02; echo \($0) >> '\(log)'" }, in: directory)
        let db = directory.file("run.sqlite")

        let first = try RunningDurable(["run", file, "--db", db, "-j", "4", "--quiet"], in: directory)
        var probe: DatabaseProbe?
        try await poll("50 lines succeeded", child: first) {
            guard FileManager.default.fileExists(atPath: db) else { return false }
            if probe == nil { probe = try DatabaseProbe(path: db) }
            // Before its schema is in place, the file has no tasks table yet.
            return ((try? probe?.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded'")) ?? 0) >= 50
        }
        try await first.killAndWait(SIGKILL)
        let database = try #require(probe)
        let succeededBefore = Set(
            try database.ids("SELECT \(lineNumber) FROM durable_tasks WHERE status = 'succeeded'").map(Int.init)
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
        #expect(try database.int("SELECT count(*) FROM durable_tasks") == count, "one task per line")
        #expect(try database.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded'") == count)
        #expect(
            try database.int(
                "SELECT count(*) FROM (SELECT task_id FROM durable_task_attempts WHERE outcome = 'succeeded' GROUP BY task_id HAVING count(*) = 1)"
            ) == count, "every line recorded exactly once as succeeded")
        #expect(try database.int("SELECT count(*) FROM durable_task_attempts WHERE outcome = 'succeeded'") == count)
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
        try await poll("line 1 started", child: interrupted) { FileManager.default.fileExists(atPath: started) }
        interrupted.signal(SIGINT)
        try await poll("the Ctrl-C is acknowledged", child: interrupted) {
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
            "SELECT status, json_extract(error, '$.message') AS message FROM durable_tasks WHERE name GLOB 'line 2: echo two*'")
        #expect(old.count == 1)
        #expect(old.first?["status"] as String? == "cancelled", "\(old)")
        #expect((old.first?["message"] as String?)?.contains("is no longer in the file") == true, "\(old)")
    }
}
