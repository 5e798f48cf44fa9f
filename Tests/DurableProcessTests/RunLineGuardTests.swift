import DurableTestKit
import Durable
import Foundation
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// No line of `durable run` outlives it, and none runs twice at the same time:
/// real processes, SIGKILL and SIGHUP, decided by polling files and /proc.
@Suite("durable run: lines never outlive their runner", .serialized)
struct RunLineGuardTests {
    @Test("a line's processes end when durable run is killed with SIGKILL")
    func linesEndWithTheirRunner() async throws {
        let directory = TemporaryDirectory()
        let pidFile = directory.file("pid")
        let commands = try writeLines(["echo $$ > \(pidFile); exec sleep 60"], in: directory)
        let runner = try ChildProcess(
            "durable-run", executable: try ChildProcess.durableExecutable(),
            arguments: ["run", commands, "--db", directory.file("run.sqlite"), "--quiet"],
            output: directory.file("run.out"))
        // The shell creates the file before it writes the pid into it: wait for the pid.
        func writtenPID() -> pid_t? {
            (try? String(contentsOfFile: pidFile, encoding: .utf8)).flatMap {
                pid_t($0.trimmingCharacters(in: .whitespacesAndNewlines))
            }
        }
        try await poll("the line runs", child: runner) { writtenPID() != nil }
        let line = try #require(writtenPID())
        try await runner.sigkill()
        try await poll("the line's process is gone") { !isAlive(line) }
    }

    @Test("a line taken over from a killed run starts again only once the earlier run's processes are gone")
    func takeoverStopsTheEarlierRun() async throws {
        let directory = TemporaryDirectory()
        let log = directory.file("log")
        let lock = directory.file("lock")
        // The first run holds the lock for a minute; a second copy running at the
        // same time could not take it and would say so.
        let line = "flock -n \(lock) -c 'echo \"start $DURABLE_ATTEMPT\" >> \(log); "
            + "[ \"$DURABLE_ATTEMPT\" = 1 ] && sleep 60; echo done >> \(log)' || echo DOUBLE >> \(log)"
        let commands = try writeLines([line], in: directory)
        let arguments = ["run", commands, "--db", directory.file("run.sqlite")]
        let first = try ChildProcess(
            "durable-run-1", executable: try ChildProcess.durableExecutable(), arguments: arguments + ["--quiet"],
            output: directory.file("run-1.out"))
        try await poll("the line runs", child: first) { try lines(of: log) == ["start 1"] }
        // Killed with its guard (as by a kill of the whole group): the line's processes are orphans.
        let guards = childProcesses(of: first.pid).filter { child in
            let commandLine = FileManager.default.contents(atPath: "/proc/\(child)/cmdline") ?? Data()
            return String(decoding: commandLine, as: UTF8.self).contains("guard-lines")
        }
        #expect(guards.count == 1)
        for pid in guards { kill(pid, SIGKILL) }
        try await first.sigkill()
        #expect(!LineProcessesProbe.find(log).isEmpty, "the first run's line still runs")

        let second = try await runDurableTool(arguments)
        #expect(second.status == 0, "\(second)")
        #expect(second.standardError.contains("stopped line 1's earlier run"), "\(second)")
        #expect(try lines(of: log) == ["start 1", "start 2", "done"])
        #expect(LineProcessesProbe.find(log).isEmpty)
    }

    @Test("SIGHUP stops running lines as SIGTERM does: exit 129, and the line runs again next time")
    func hangupStopsLines() async throws {
        let directory = TemporaryDirectory()
        let log = directory.file("log")
        let pidFile = directory.file("pid")
        let commands = try writeLines(
            [
                // The pid first: once the log shows the start, the pid file is whole.
                "echo $$ > \(pidFile); echo \"start $DURABLE_ATTEMPT\" >> \(log); "
                    + "[ \"$DURABLE_ATTEMPT\" = 1 ] && exec sleep 60; true"
            ],
            in: directory)
        let arguments = ["run", commands, "--db", directory.file("run.sqlite"), "--quiet"]
        let runner = try ChildProcess(
            "durable-run", executable: try ChildProcess.durableExecutable(), arguments: arguments,
            output: directory.file("run.out"))
        try await poll("the line runs", child: runner) { try lines(of: log) == ["start 1"] }
        kill(runner.pid, SIGHUP)
        let (status, signalled) = try await runner.waitForExit(timeout: .seconds(60))
        #expect(!signalled && status == 129, "\(runner.fullOutput)")
        let line = try #require(
            pid_t((try String(contentsOfFile: pidFile, encoding: .utf8)).trimmingCharacters(in: .whitespacesAndNewlines)))
        #expect(!isAlive(line), "the line was stopped")
        let again = try await runDurableTool(arguments)
        #expect(again.status == 0, "\(again)")
        #expect(try lines(of: log) == ["start 1", "start 2"])
    }
}

private func writeLines(_ lines: [String], in directory: TemporaryDirectory) throws -> String {
    let path = directory.file("commands.txt")
    try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: path))
    return path
}

/// Whether `pid` runs (a zombie does not).
private func isAlive(_ pid: pid_t) -> Bool {
    guard kill(pid, 0) == 0, let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
        let close = stat.lastIndex(of: ")")
    else { return false }
    return !stat[stat.index(after: close)...].hasPrefix(" Z")
}

/// The processes whose parent is `pid`.
private func childProcesses(of pid: pid_t) -> [pid_t] {
    let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return entries.compactMap { entry in
        guard let child = pid_t(entry), let stat = try? String(contentsOfFile: "/proc/\(child)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        return fields.count > 1 && pid_t(fields[1]) == pid ? child : nil
    }
}

/// Running processes whose command line mentions `marker` (a file only one
/// test's lines name).
private enum LineProcessesProbe {
    static func find(_ marker: String) -> [pid_t] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry in
            guard let pid = pid_t(entry), pid != getpid(), isAlive(pid),
                let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline")
            else { return nil }
            return String(decoding: data, as: UTF8.self).contains(marker) ? pid : nil
        }
    }
}

/// What `durable run` reports when it does not run every line alone.
@Suite("durable run: counts and notes", .serialized)
struct RunReportTests {
    @Test("two runners of one batch each say how many lines the other ran; together they ran each line once")
    func twoRunners() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("run.sqlite")
        let commands = (1...40).map { "sleep 0.02; echo \($0)" }.joined(separator: "\n")
        let file = directory.file("commands.txt")
        try Data((commands + "\n").utf8).write(to: URL(fileURLWithPath: file))
        // The database first, so that both runners open a file that exists.
        #expect(try await runDurableTool(["run", file, "--db", database, "--dry-run"]).status == 0)
        let arguments = ["run", file, "--db", database, "-j", "2", "--quiet"]
        let runners = try (1...2).map { index in
            try ChildProcess(
                "runner-\(index)", executable: try ChildProcess.durableExecutable(), arguments: arguments,
                output: directory.file("runner-\(index).out"))
        }
        var ranHere = 0
        for runner in runners {
            let (status, signalled) = try await runner.waitForExit(timeout: .seconds(120))
            let summary = runner.fullOutput.split(separator: "\n").last.map(String.init) ?? ""
            #expect(!signalled && status == 0, "\(summary)")
            func count(_ pattern: String) -> Int {
                guard let range = summary.range(of: "(\\d+) \(pattern)", options: .regularExpression) else { return 0 }
                return Int(summary[range].split(separator: " ")[0]) ?? 0
            }
            #expect(count("succeeded") == 40, "\(summary)")
            ranHere += count("succeeded") - count("already done") - count("run meanwhile by another")
        }
        #expect(ranHere == 40)
    }

    @Test("a failed attempt with retries left says it will retry")
    func retryNote() async throws {
        let directory = TemporaryDirectory()
        let counter = directory.file("count")
        let file = directory.file("commands.txt")
        try Data("echo x >> \(counter); [ $(wc -l < \(counter)) -ge 3 ]\n".utf8).write(to: URL(fileURLWithPath: file))
        let result = try await runDurableTool(["run", file, "--db", directory.file("run.sqlite"), "--retries", "2", "--quiet"])
        #expect(result.status == 0, "\(result)")
        #expect(result.standardError.contains("line 1 failed (exit status 1) on attempt 1 of 3; retrying"), "\(result)")
        #expect(result.standardError.contains("on attempt 2 of 3; retrying"), "\(result)")
    }
}
