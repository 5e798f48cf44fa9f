import DurableTestKit
import Durable
import Foundation
import Testing

/// The PostgreSQL server misbehaving under a running batch: connections killed
/// with `pg_terminate_backend`, the server restarted. A `DurableTestWorker`
/// child runs the tasks; this process waits for their results through its own
/// engine, whose connections are killed too. Each task ends once, with its own
/// result, and runs once: a lost connection costs time, not work.
///
/// These tests kill every Durable session on the server and restart it: they
/// would break other tests running at the same time, so they run only when
/// `DURABLE_TEST_SERVER_FAULTS=1`, which `scripts/test` sets for a run of this
/// suite alone, after the others.
@Suite(
    "PostgreSQL faults under a running batch", .serialized,
    .enabled(
        if: ProcessInfo.processInfo.environment["DURABLE_TEST_SERVER_FAULTS"] == "1",
        "kills sessions and restarts the server: scripts/test runs it alone (DURABLE_TEST_SERVER_FAULTS=1)"))
struct PostgresFaultTests {
    static let count = 600

    /// Creates the batch, starts a worker and the waiting, runs `fault` while the
    /// batch is under way, then checks the outcome.
    private func runBatch(
        _ what: String, fault: @escaping @Sendable (_ probe: SQLProbe, _ progress: @Sendable () async throws -> Int) async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory()
        let database = try PostgresTestServer.newSchemaURL()
        let executionLog = directory.file("executions.log")
        let engine = try await openEngine(database)
        let tasks = try await engine.createTasks(CrashWork.self, inputs: Array(0..<Self.count))
        let ids = tasks.map(\.id.rawValue)
        let (first, last) = (try #require(ids.first), try #require(ids.last))
        let probe = try await SQLProbe.open(database)
        let worker = try ChildProcess(
            "worker",
            arguments: [
                "run", database, "--concurrency", "8", "--log", executionLog, "--delay-ms", "5",
                "--wait-ids", "\(first)-\(last)",
            ], in: directory)
        let waiting = Task { try await engine.gather(tasks) }
        // A session per look: the server may restart under it.
        let progress: @Sendable () async throws -> Int = {
            let look = try await SQLProbe.open(database)
            defer { Task { await look.close() } }
            return try await look.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'")
        }
        do {
            try await poll("the batch is under way", child: worker) { try await progress() > 20 }
            try await fault(probe, progress)
        } catch {
            await probe.close()
            try? FileManager.default.copyItem(atPath: worker.outputPath, toPath: "/tmp/fault-worker.log")
            print(worker.output())
            throw error
        }
        let results = try await withTimeout("the batch is gathered after \(what)", .seconds(120)) {
            try await waiting.value
        }
        #expect(results == (0..<Self.count).map { $0 * 2 })
        try await worker.expectCleanExit()
        await probe.close()
        let after = try await SQLProbe.open(database)

        // One ending per task, its own; one succeeded run each, and no other.
        #expect(try await after.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'") == Self.count)
        #expect(
            try await after.int(
                "SELECT count(*) FROM tasks WHERE CAST(result AS BIGINT) <> 2 * CAST(input AS BIGINT)") == 0)
        #expect(try await after.int("SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded'") == Self.count)
        #expect(
            try await after.int("SELECT count(DISTINCT task_id) FROM task_attempts WHERE outcome = 'succeeded'")
                == Self.count)
        // The only other runs: claims whose COMMIT got no answer but committed,
        // handed back by the worker's heartbeat without having started.
        let otherRuns = try await after.table(
            """
            SELECT task_id, attempt, outcome, error FROM task_attempts
            WHERE outcome <> 'succeeded' AND error NOT LIKE '%without running it%'
            """)
        #expect(otherRuns.isEmpty, "\(otherRuns.prefix(10))")
        // Each job ran once: no run was lost to a connection and done again.
        let executions = try lineCounts(of: executionLog)
        #expect(executions.count == Self.count)
        let repeated = executions.filter { $0.value != 1 }.keys.sorted()
        #expect(repeated.isEmpty, "inputs run more than once: \(repeated.prefix(20))")
        await after.close()
        try engine.close()
    }

    @Test("every connection killed with pg_terminate_backend, again and again: nothing lost, nothing run twice")
    func connectionsTerminated() async throws {
        try await runBatch("connections were killed") { probe, progress in
            for round in 0..<4 {
                // Every session of every engine: the worker's and this process's.
                let killed = try await probe.int(
                    """
                    SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                    WHERE application_name LIKE 'durable %' AND pid <> pg_backend_pid()) AS k
                    """)
                #expect(killed > 0, "round \(round) found sessions to kill")
                let before = try await progress()
                try await poll("progress after kill \(round + 1)") { try await progress() > before + 10 }
            }
        }
    }

    @Test("the server restarted mid-batch: the worker and the waiter reconnect and finish the batch")
    func serverRestarted() async throws {
        let cluster = try #require(
            ProcessInfo.processInfo.environment["DURABLE_POSTGRES_DIR"],
            "DURABLE_POSTGRES_DIR names the test cluster's folder (scripts/test sets it)")
        try await runBatch("a server restart") { _, progress in
            let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().appendingPathComponent("scripts/postgres").path
            let restart = try ChildProcess(
                "restart", executable: URL(fileURLWithPath: script), arguments: ["restart", cluster],
                output: FileManager.default.temporaryDirectory.appendingPathComponent("restart-\(getpid()).log").path)
            let exit = try await restart.waitForExit()
            #expect(exit.status == 0 && !exit.signalled, "\(restart.output())")
            let before = try await progress()
            try await poll("progress after the restart") { try await progress() > before + 10 }
        }
    }
}
