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

/// `durable run` and Ctrl-C (SIGINT), once and twice.
extension RunCommandTests {
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
        try await poll("two lines started", child: first) { try lines(of: starts).count == 2 }
        let running = Set(try lines(of: starts))
        first.signal(SIGINT)
        try await poll("the first Ctrl-C is acknowledged", child: first) {
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
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded'") == 2)
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'pending'") == 3)
        #expect(try probe.int("SELECT count(*) FROM durable_task_attempts") == 2)

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
        try await poll("two lines started", child: first) { try lines(of: starts).count == 2 }
        let running = Set(try lineCounts(of: starts).keys)
        first.signal(SIGINT)
        try await poll("the first Ctrl-C is acknowledged", child: first) {
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
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'pending'") == 3)
        let interruptedLines = Set(
            try probe.ids(
                """
                SELECT \(lineNumberSQL(of: "t")) FROM durable_task_attempts AS a JOIN durable_tasks AS t ON t.id = a.task_id
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
}
