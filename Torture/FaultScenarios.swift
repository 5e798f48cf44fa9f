import Durable
import DurableTestKit
import Foundation
import GRDB

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Storage faults: each must give a clear error (a `DurableError` naming the file) or
/// a clean recovery, never a crash and never a silent loss of stored tasks.
enum FaultScenarios {
    /// Plain tasks in a fault scenario's batch, and their work time.
    static let batchSize = 300
    static let workMilliseconds = 15

    // MARK: Helpers

    /// Creates `count` plain tasks (ids 1...count) on a fresh file, in this process.
    static func seed(_ path: String, count: Int = batchSize) async throws {
        try await KillScenario.create((0..<count).map { KillScenario.Item(job: Plain.name, input: $0) }, in: path)
    }

    static func succeeded(_ path: String) throws -> Int {
        let probe = try DatabaseProbe(path: path)
        defer { try? probe.close() }
        return try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded'")
    }

    /// Waits until `condition` holds, checking every 20 ms; `false` after `timeout`.
    static func waitUntil(_ timeout: Duration, _ condition: () throws -> Bool) async throws -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if (try? condition()) == true { return true }
            try await Task.sleep(for: .milliseconds(20))
        }
        return (try? condition()) == true
    }

    /// "ERROR <code>: <message>" lines a worker printed.
    static func errors(in output: String) -> [String] {
        output.split(separator: "\n").filter { $0.hasPrefix("ERROR ") }.map(String.init)
    }

    /// The RESULT lines of a `probe` worker: operation -> "ok ..." or "error <code>: ...".
    static func probeResults(_ output: String) -> [String: String] {
        var results: [String: String] = [:]
        for line in output.split(separator: "\n") where line.hasPrefix("RESULT ") {
            let parts = line.dropFirst(7).split(separator: " ", maxSplits: 1)
            if parts.count == 2 { results[String(parts[0])] = String(parts[1]) }
        }
        return results
    }

    /// Runs `DurableTestWorker probe` on `path`: its results and how it ended.
    static func probe(_ path: String, folder: Folder, label: String) async throws
        -> (results: [String: String], ended: String?, output: String)
    {
        let child = try Child(label, ["probe", path], output: folder.file("\(label).out"))
        guard let (status, signalled) = try await child.exit(within: .seconds(60)) else {
            return ([:], "hung (killed after 60 s)", child.fullOutput)
        }
        let ended = signalled ? "crashed with signal \(status)" : status == 0 ? nil : "exited with status \(status)"
        return (probeResults(child.fullOutput), ended, child.fullOutput)
    }

    /// The checks common to the mid-run faults once the fault is lifted: every seeded
    /// task succeeded with its result, every acknowledged creation is stored, the file
    /// is sound; returns how many plain bodies ran more than once.
    static func checkBatch(
        _ path: String, log: String, acknowledged: [String], findings: inout Findings, count: Int = batchSize
    ) throws -> Int {
        let probe = try DatabaseProbe(path: path)
        defer { try? probe.close() }
        var violations: [String] = []
        for row in try probe.rows("SELECT id, input, status, result FROM durable_tasks WHERE job = 'plain'") {
            let input = Int(row["input"] as String) ?? -1
            if row["status"] as String != "succeeded" || row["result"] as String? != "\(Expected.plain(input))" {
                violations.append("task \(row["id"] as Int64): \(row["status"] as String)")
            }
        }
        let stored = try probe.int("SELECT count(*) FROM durable_tasks WHERE job = 'plain'")
        findings.expect(stored == count, "plain tasks lost: \(stored) of \(count) stored")
        let keys = Set(try probe.strings("SELECT key FROM durable_tasks WHERE key IS NOT NULL"))
        let lost = acknowledged.filter { !keys.contains($0) }
        findings.expect(lost.isEmpty, "acknowledged creations lost: \(lost.prefix(10))")
        findings.expectNone(violations, "seeded task(s) not succeeded")
        let integrity = try probe.integrityCheck()
        findings.expect(integrity == ["ok"], "integrity_check: \(integrity.prefix(5))")
        var counts: [String: Int] = [:]
        for line in try lines(of: log) { counts[line, default: 0] += 1 }
        return counts.values.filter { $0 > 1 }.count
    }

    /// One worker runs the seeded batch; once 50 tasks succeeded, `inject` breaks the
    /// storage; a second process then tries to submit and must get a clear error; the
    /// worker must report the problem without crashing; then `lift` repairs the
    /// storage and the batch must finish (by the same worker, or a new one) with
    /// nothing lost.
    static func midRunFault(
        _ context: ScenarioContext, database: String, what: String, expectedCodes: Set<String>,
        errorWords: [String], inject: () throws -> Void, lift: () throws -> Void
    ) async throws -> Findings {
        let folder = context.folder
        var findings = Findings()
        let log = folder.file("executions.log")
        try await seed(database)
        let worker = try Child(
            "worker",
            [
                "run", database, "--log", log, "--concurrency", "4", "--delay-ms", "\(workMilliseconds)",
                "--wait-ids", "1-\(batchSize)",
            ], output: folder.file("worker.out"))
        guard try await waitUntil(.seconds(60), { try succeeded(database) >= 50 }) else {
            findings.fail("the worker did not get 50 tasks done within 60 s: \(worker.output())")
            try await worker.sigkill()
            return findings
        }
        try inject()
        let injectedAt = try succeeded(database)
        try await Task.sleep(for: .milliseconds(1500))

        // A second process submitting meanwhile gets a clear error.
        let ack = folder.file("acks.log")
        let submitter = try Child(
            "submitter", [
                "submit", database, "--job", "filler", "--count", "20", "--ack", ack, "--payload", "4000",
                "--key-prefix", "during-", "--delay-ms", "0",
            ],
            output: folder.file("submitter.out"))
        let submitted = try await submitter.exit(within: .seconds(90))
        let submitterErrors = errors(in: submitter.fullOutput)
        if let (status, signalled) = submitted {
            if signalled {
                findings.fail("the submitter crashed with signal \(status) while \(what): \(submitter.output())")
            } else if status == 0 {
                findings.fail("the submitter created 20 tasks while \(what), without an error")
            } else if let error = submitterErrors.first {
                let code = error.dropFirst(6).split(separator: ":").first.map(String.init) ?? ""
                findings.expect(expectedCodes.contains(code), "the submitter got \(error); expected \(expectedCodes.sorted())")
                findings.expect(error.contains(database), "the submitter's error does not name the file: \(error)")
                findings.note("submitter: \(error.prefix(160))")
            } else {
                findings.fail("the submitter ended with status \(status) without an error line: \(submitter.output())")
            }
        } else {
            findings.fail("the submitter hung while \(what) (killed after 90 s)")
        }
        let frozenAt = try succeeded(database)
        findings.expect(worker.isRunning, "the worker ended while \(what): \(worker.output())")
        let reported = worker.fullOutput.split(separator: "\n").filter { line in
            (line.contains("error") || line.contains("warning")) && errorWords.contains { line.contains($0) }
        }
        findings.expect(
            !reported.isEmpty, "the worker logged no error about the fault within 1.5 s: \(worker.output(last: 800))")
        if let first = reported.first { findings.note("worker logged: \(logMessage(first).prefix(200))") }

        try lift()
        var restarted = false
        if try await worker.exit(within: .seconds(40)) == nil {
            restarted = true
            let second = try Child(
                "worker-2", ["run", database, "--log", log, "--concurrency", "4", "--delay-ms", "0", "--wait-ids", "1-\(batchSize)"],
                output: folder.file("worker-2.out"))
            if let (status, signalled) = try await second.exit(within: .seconds(90)) {
                findings.expect(
                    status == 0 && !signalled, "the second worker ended with status \(status): \(second.output())")
            } else {
                findings.fail("a new worker did not finish the batch within 90 s after \(what) ended")
            }
        } else {
            findings.expect(
                !worker.isRunning && errors(in: worker.fullOutput).isEmpty,
                "the worker ended with an error after the fault was lifted: \(worker.output())")
        }
        let acknowledged = try lines(of: ack).map { "during-\($0)" }
        let repeated = try checkBatch(database, log: log, acknowledged: acknowledged, findings: &findings)
        if !restarted {
            findings.expect(repeated == 0, "\(repeated) task(s) ran twice although the worker was never killed")
        } else {
            findings.expect(repeated <= 4, "\(repeated) task(s) ran twice; at most the 4 in flight may")
        }
        findings.note(
            "\(injectedAt) of \(batchSize) done at the fault, \(frozenAt) after 1.5 s; "
                + (restarted ? "the worker did not recover by itself within 40 s: a new worker finished" :
                    "the same worker finished once the fault was lifted"))
        return findings
    }

    // MARK: Disk full

    static func diskFull(_ context: ScenarioContext) async throws -> Findings {
        let disk: SmallFilesystem
        do {
            disk = try SmallFilesystem(at: context.folder.file("tmpfs"), megabytes: 8)
        } catch {
            var findings = try await fileSizeLimit(context)
            findings.note("mounting a tmpfs was refused (\(error)): the file size was limited with RLIMIT_FSIZE instead")
            return findings
        }
        let database = disk.file("full.sqlite")
        var findings = try await midRunFault(
            context, database: database, what: "the disk is full", expectedCodes: ["disk_full"],
            errorWords: ["full", database], inject: { disk.fill() }, lift: { disk.free() })
        findings.notes.insert("a tmpfs of 8 MiB, filled mid-run", at: 0)
        return findings
    }

    // MARK: File size limit

    /// The worker and a submitter run with RLIMIT_FSIZE just above the files' sizes:
    /// writes past it fail with EFBIG, which the process cannot lift; a new worker
    /// without the limit must then finish the batch with nothing lost.
    static func fileSizeLimit(_ context: ScenarioContext) async throws -> Findings {
        let folder = context.folder
        var findings = Findings()
        let database = folder.file("limited.sqlite")
        let log = folder.file("executions.log")
        try await seed(database)
        let sizes = [database, database + "-wal"].compactMap(fileSize)
        let limit = (sizes.max() ?? 0) + 96 * 1024
        let worker = try Child(
            "worker-limited",
            [
                "run", database, "--log", log, "--concurrency", "4", "--delay-ms", "\(workMilliseconds)",
                "--wait-ids", "1-\(batchSize)", "--fsize-limit", "\(limit)",
            ], output: folder.file("worker-limited.out"))
        let reported = try await waitUntil(.seconds(60)) {
            worker.fullOutput.split(separator: "\n").contains { $0.contains("error") && $0.contains(database) }
        }
        let doneAtError = try succeeded(database)
        if let ended = try await worker.exit(within: .seconds(2)) {
            findings.fail("the limited worker ended (status \(ended.status), signalled \(ended.signalled)): \(worker.output())")
        }
        findings.expect(reported, "the limited worker logged no error naming the file: \(worker.output(last: 800))")
        if let line = worker.fullOutput.split(separator: "\n").first(where: { $0.contains("error") && $0.contains(database) }) {
            findings.note("worker logged: \(logMessage(line).prefix(200))")
        }
        try await worker.sigkill()

        let ack = folder.file("acks.log")
        let submitter = try Child(
            "submitter-limited",
            [
                "submit", database, "--job", "filler", "--count", "200", "--ack", ack, "--payload", "4000",
                "--key-prefix", "limited-", "--delay-ms", "0",
                "--fsize-limit", "\(limit)",
            ], output: folder.file("submitter-limited.out"))
        if let (status, signalled) = try await submitter.exit(within: .seconds(90)) {
            let error = errors(in: submitter.fullOutput).first
            findings.expect(!signalled, "the limited submitter crashed with signal \(status)")
            findings.expect(status == 3 && error != nil, "the limited submitter ended with status \(status): \(submitter.output())")
            if let error {
                let code = error.dropFirst(6).split(separator: ":").first.map(String.init) ?? ""
                findings.expect(["disk_full", "storage"].contains(code), "the limited submitter got \(error)")
                findings.expect(error.contains(database), "the error does not name the file: \(error)")
                findings.note("submitter: \(error.prefix(160))")
            }
        } else {
            findings.fail("the limited submitter hung (killed after 90 s)")
        }

        // Without the limit, a new worker finishes; nothing stored was lost.
        let second = try Child(
            "worker", ["run", database, "--log", log, "--concurrency", "4", "--delay-ms", "0", "--wait-ids", "1-\(batchSize)"],
            output: folder.file("worker.out"))
        if let (status, signalled) = try await second.exit(within: .seconds(90)) {
            findings.expect(status == 0 && !signalled, "the unlimited worker ended with status \(status): \(second.output())")
        } else {
            findings.fail("the unlimited worker did not finish within 90 s")
        }
        let acknowledged = try lines(of: ack).map { "limited-\($0)" }
        let repeated = try checkBatch(database, log: log, acknowledged: acknowledged, findings: &findings)
        findings.expect(repeated <= 4, "\(repeated) task(s) ran twice; at most the 4 in flight may")
        findings.note(
            "RLIMIT_FSIZE \(limit / 1024) KiB: \(doneAtError) of \(batchSize) done when the worker reported the error; "
                + "\(acknowledged.count) creations acknowledged before the submitter's error")
        return findings
    }

    // MARK: Read-only mid-run

    static func readOnlyMidRun(_ context: ScenarioContext) async throws -> Findings {
        let database = context.folder.file("readonly.sqlite")
        // Not the -shm: every connection maps it and writes to the mapping, and a
        // write fault on a page of an immutable file is refused by the kernel with
        // SIGBUS (page_mkwrite fails once the page was written back), which kills
        // any process that has the file open, whatever it does. That is a crash,
        // which kill-resume covers; here the files that hold the data turn read-only.
        let files = [database, database + "-wal"]
        // Root ignores permission bits: the immutable attribute stops root too.
        let probeFile = context.folder.file("chattr-probe")
        _ = FileManager.default.createFile(atPath: probeFile, contents: Data("x".utf8))
        let (works, output) = setImmutable(true, [probeFile])
        setImmutable(false, [probeFile])
        guard works else {
            var findings = Findings()
            findings.skipped = "chattr +i does not work on \(context.folder.path): \(output)"
            return findings
        }
        defer { setImmutable(false, files) }
        var findings = try await midRunFault(
            context, database: database, what: "the files are immutable",
            expectedCodes: ["read_only_database", "cannot_open", "storage"],
            errorWords: [database, "cannot be written", "readonly", "read-only", "I/O"],
            inject: {
                let (ok, output) = setImmutable(true, files)
                if !ok { throw TortureFailure("chattr +i failed: \(output)") }
            },
            lift: {
                let (ok, output) = setImmutable(false, files)
                if !ok { throw TortureFailure("chattr -i failed: \(output)") }
            })
        findings.notes.insert("chattr +i on the database and its -wal mid-run", at: 0)
        return findings
    }

    // MARK: WAL deleted

    /// A worker finishes a batch and stops cleanly (its engine released); then the -wal
    /// and -shm files are deleted while no process has the file open. Reopening must
    /// work and every task and result must be there: a clean stop must leave nothing
    /// in the WAL that the main file lacks. (After a SIGKILL, committed transactions
    /// still in the WAL are part of the database: deleting the WAL then loses them, as
    /// SQLite documents; that variant only checks that the file reopens sound.)
    static func walDeleted(_ context: ScenarioContext) async throws -> Findings {
        let folder = context.folder
        var findings = Findings()
        let database = folder.file("wal.sqlite")
        let wal = database + "-wal"
        let shm = database + "-shm"
        try await seed(database, count: 200)
        let afterSubmit = fileSize(wal)
        let worker = try Child(
            "worker", ["serve", database, "--wait-ids", "1-200", "--concurrency", "8"], output: folder.file("worker.out"))
        guard let (status, signalled) = try await worker.exit(within: .seconds(90)), status == 0, !signalled else {
            findings.fail("the worker did not stop cleanly: \(worker.output())")
            return findings
        }
        let walSize = fileSize(wal)
        try? FileManager.default.removeItem(atPath: wal)
        try? FileManager.default.removeItem(atPath: shm)
        let reopened = try await probe(database, folder: folder, label: "reopen")
        findings.expect(reopened.ended == nil, "reopening without the WAL: the probe \(reopened.ended ?? "")")
        findings.expect(
            reopened.results["open"] == "ok", "reopening without the WAL failed: \(reopened.results["open"] ?? "nothing")")
        let probe = try DatabaseProbe(path: database)
        // The seeded tasks are 1...200 (the probe adds one of its own).
        let tasks = try probe.int("SELECT count(*) FROM durable_tasks WHERE job = 'plain' AND id <= 200")
        let done = try probe.int("SELECT count(*) FROM durable_tasks WHERE job = 'plain' AND id <= 200 AND status = 'succeeded'")
        let integrity = try probe.integrityCheck()
        try probe.close()
        findings.expect(integrity == ["ok"], "integrity_check: \(integrity.prefix(5))")
        let describeWAL = { (size: Int?) in size.map { "\($0) bytes" } ?? "absent" }
        findings.expect(
            (walSize ?? 0) == 0, "a clean stop (engine.close()) left a WAL of \(describeWAL(walSize)) next to the file")
        if tasks != 200 || done != 200 {
            findings.fail(
                "after a clean stop (engine.close()) the WAL still held committed transactions "
                    + "(\(describeWAL(walSize))); deleting it lost them: \(tasks) of 200 tasks and \(done) of 200 "
                    + "results remain")
        }
        findings.note(
            "WAL after submitting: \(describeWAL(afterSubmit)), after the clean stop: \(describeWAL(walSize)); "
                + "without it: \(tasks) tasks, \(done) results")

        // The crash variant: SIGKILL mid-run, delete the WAL, reopen.
        let crashed = folder.file("crashed.sqlite")
        try await seed(crashed, count: 200)
        let killed = try Child(
            "killed-worker",
            ["run", crashed, "--concurrency", "4", "--delay-ms", "\(workMilliseconds)"],
            output: folder.file("killed-worker.out"))
        _ = try await waitUntil(.seconds(30)) { try succeeded(crashed) >= 40 }
        try await killed.sigkill()
        let crashedWAL = fileSize(crashed + "-wal")
        try? FileManager.default.removeItem(atPath: crashed + "-wal")
        try? FileManager.default.removeItem(atPath: crashed + "-shm")
        let afterCrash = try await FaultScenarios.probe(crashed, folder: folder, label: "reopen-crashed")
        findings.expect(afterCrash.ended == nil, "reopening a crashed file without its WAL: \(afterCrash.ended ?? "")")
        findings.expect(
            afterCrash.results["open"] == "ok",
            "reopening a crashed file without its WAL failed: \(afterCrash.results["open"] ?? "nothing")")
        let crashedProbe = try DatabaseProbe(path: crashed)
        let crashedIntegrity = try crashedProbe.integrityCheck()
        let kept = try crashedProbe.int("SELECT count(*) FROM durable_tasks WHERE id <= 200")
        try crashedProbe.close()
        findings.expect(crashedIntegrity == ["ok"], "integrity_check after the crash variant: \(crashedIntegrity.prefix(5))")
        findings.note(
            "after SIGKILL (WAL \(describeWAL(crashedWAL))) and deleting the WAL: reopens sound, \(kept) of 200 tasks "
                + "kept (committed transactions only in the WAL are lost, as SQLite documents)")
        return findings
    }
}
