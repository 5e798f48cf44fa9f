import DurableTestKit
import Durable
import Foundation
import Testing

/// Two hosts on one PostgreSQL server: worker A runs on this host, worker B in a
/// network namespace of its own under another host name (``NetworkNamespace``),
/// reaching the server over a veth link through a forwarder (``TCPForwarder``).
/// Mid-batch B's link is cut: A must take B's tasks over only once their leases
/// expire (B is another host: nothing here can prove it dead), B's late
/// completions must be refused once the link is back, and B must go on with new
/// work. Every moment is chosen by polling the database and the execution logs,
/// never by timing; nothing asserts how long anything took.
///
/// Which worker works when is steered with `crash-work`'s stall files: runs that
/// start while a worker's stall file exists wait until it is removed. A's keeps
/// A from finishing the batch alone while B is away (A holds at most its slots'
/// worth of stalled runs), so that work is left for B once its link is back.
///
/// Where the cut lands, two ways:
/// - among runs: B's stall file makes sure that B has runs in flight and
///   nothing to commit when its link goes down;
/// - inside a commit: this test holds the completion counter's lock (every
///   commit of finished runs takes it) until one of B's sessions waits for it,
///   cuts the link, and lets go: B's write gets the lock just after the cut.
///   B's usual cycle is one statement: it commits on the server, and its answer
///   never reaches B (B's completions, tried again, are refused). A write of B's
///   in a transaction would keep the lock, idle, with its client gone: the
///   server ends such a session (the store's
///   `idle_in_transaction_session_timeout`); until it does, A's commits and its
///   recovery wait for the lock.
@Suite("Several hosts: a worker cut off by the network", .serialized)
struct MultiHostTests {
    /// Enough that the workers cannot run out of work while this test looks
    /// away (a busy CI machine), though they run freely only until the cut.
    static let count = 800
    static let concurrency = 4
    static let leaseMilliseconds = 3000

    /// Where B's link is cut.
    enum Cut: String {
        case amongRuns = "among runs"
        case insideCommit = "inside a commit"
    }

    /// One worker process and its files.
    struct Host {
        var child: ChildProcess
        var log: String
        var stallFile: String
        var stalledLog: String
        /// Its id in the `workers` table.
        var id = ""
    }

    @Test(
        "a worker whose link goes down mid-batch: its tasks are taken over when their leases expire, its late completions are refused, and it goes on with new work once the link is back"
    )
    func workerCutOff() async throws {
        try await cutOff(.amongRuns)
    }

    @Test(
        "a worker cut off inside its commit, just as it gets the completion lock: its commit goes through unheard (or, in a transaction, the server ends its session), the other host goes on, and the batch ends as in a crash-free run"
    )
    func workerCutOffInsideCommit() async throws {
        try await cutOff(.insideCommit)
    }

    private func cutOff(_ cut: Cut) async throws {
        // Not skipped: CI runs as root, with scripts/bootstrap's ip and socat.
        if let reason = NetworkNamespace.missingReason ?? TCPForwarder.missingReason { throw TestKitError(reason) }
        let database = try PostgresTestServer.newSchemaURL()
        let server = try PostgresTestServer.address()
        let directory = TemporaryDirectory()
        let network = try NetworkNamespace.create()
        defer { network.remove() }
        let forwarder = try await TCPForwarder(
            listen: network.hostAddress, port: server.port, to: server.host, port: server.port,
            output: directory.file("socat.out"))
        // The workers are ended when `cutOff` returns, before the forwarder and
        // the namespace go.
        try await cutOff(cut, database: database, network: network, forwarder: forwarder, directory: directory)
        try await forwarder.stop()
    }

    private func cutOff(
        _ cut: Cut, database: String, network: NetworkNamespace, forwarder: TCPForwarder, directory: TemporaryDirectory
    ) async throws {
        let started = ContinuousClock.now
        let engine = try await openEngine(database)
        let tasks = try await engine.createTasks(CrashWork.self, inputs: Array(0..<Self.count))
        try engine.close()
        let ids = tasks.map(\.id.rawValue)
        let (first, last) = (try #require(ids.first), try #require(ids.last))
        let inputOf = Dictionary(uniqueKeysWithValues: zip(ids, 0..<Self.count))
        let probe = try await SQLProbe.open(database)

        func start(_ side: String, database: String, inNamespace hostName: String? = nil) throws -> Host {
            let (log, stallFile, stalledLog) = (
                directory.file("\(side)-executions.log"), directory.file("\(side).stall"),
                directory.file("\(side)-stalled.log")
            )
            let arguments = [
                "run", database, "--concurrency", "\(Self.concurrency)", "--delay-ms", "50",
                "--lease-ms", "\(Self.leaseMilliseconds)", "--recovery-interval-ms", "500",
                "--wait-ids", "\(first)-\(last)", "--log", log, "--stall-file", stallFile, "--stalled-log", stalledLog,
            ]
            let output = directory.file("worker-\(side).out")
            let child: ChildProcess
            if let hostName {
                let (executable, command) = try network.command(
                    try WorkerExecutable.url(), arguments, hostName: hostName)
                child = try ChildProcess("worker \(side)", executable: executable, arguments: command, output: output)
            } else {
                child = try ChildProcess("worker \(side)", worker: arguments, output: output)
            }
            return Host(child: child, log: log, stallFile: stallFile, stalledLog: stalledLog)
        }

        let hostB = "durable-host-b-\(network.name.suffix(6))"
        let remote = try PostgresTestServer.url(database, host: forwarder.listenAddress, port: forwarder.listenPort)
        // A starts held: B (in its namespace, through the forwarder) may take
        // longer to start, and A must not run the batch alone meanwhile.
        _ = FileManager.default.createFile(atPath: directory.file("a.stall"), contents: nil)
        var a = try start("a", database: database)
        var b = try start("b", database: remote, inNamespace: hostB)
        let workers = [a.child, b.child]
        do {
            /// Polls `condition`; both workers must keep running meanwhile.
            func waitUntil(_ what: String, timeout: Duration = .seconds(90), _ condition: () async throws -> Bool)
                async throws
            {
                let since = ContinuousClock.now
                try await poll(what, timeout: timeout) {
                    for worker in workers { try worker.requireRunning() }
                    return try await condition()
                }
                print("several hosts (\(cut.rawValue)), at \(since - started): \(what), after \(ContinuousClock.now - since)")
            }
            func succeeded(by worker: String, startedAfter: Int64 = 0) async throws -> Int {
                try await probe.int(
                    """
                    SELECT count(*) FROM task_attempts
                    WHERE owner = '\(worker)' AND outcome = 'succeeded' AND started_at > \(startedAfter)
                    """)
            }

            // Two hosts: B under its own host name, A under this machine's; the
            // same kernel (boot id), so only the host name tells them apart.
            try await waitUntil("both workers are registered") {
                try await probe.int("SELECT count(*) FROM workers") == 2
            }
            let rows = try await probe.table("SELECT id, host, pid, boot_id FROM workers")
            let rowB = try #require(rows.first { $0[1] == hostB }, "worker B registers as host \(hostB): \(rows)")
            let rowA = try #require(rows.first { $0[1] != hostB }, "\(rows)")
            (a.id, b.id) = (rowA[0], rowB[0])
            #expect(rowB[2] == "\(b.child.pid)", "worker B is the process started in the namespace")
            #expect(rowA[2] == "\(a.child.pid)")
            #expect(rowA[3] == rowB[3], "one kernel: the boot ids agree")

            // Both hosts at work: B first, then A too.
            try await waitUntil("worker B finished tasks") { try await succeeded(by: b.id) >= 10 }
            try FileManager.default.removeItem(atPath: a.stallFile)
            try await waitUntil("worker A finished tasks") { try await succeeded(by: a.id) >= 10 }

            var inFlight: [Int64: Int64]
            var stalledB: Set<Int> = []
            var heldLock = false
            var heldPID = ""
            let cutAt: ContinuousClock.Instant
            switch cut {
            case .amongRuns:
                // B's new runs stall: once B has a slot's worth stalled, those runs
                // are certainly in flight. Then A is held too, and B's link goes down.
                _ = FileManager.default.createFile(atPath: b.stallFile, contents: nil)
                try await waitUntil("worker B has \(Self.concurrency) runs stalled") {
                    try lines(of: b.stalledLog).count >= Self.concurrency
                }
                _ = FileManager.default.createFile(atPath: a.stallFile, contents: nil)
                try network.linkDown()
                cutAt = .now
                inFlight = try await attempts(
                    probe, "SELECT id, attempt FROM tasks WHERE status = 'running' AND owner = '\(b.id)'")
                stalledB = Set(try lines(of: b.stalledLog).compactMap { Int($0) })
                #expect(stalledB.isSubset(of: Set(inFlight.keys.compactMap { inputOf[$0] })))
                // B's runs finish on B: their results cannot reach the server.
                try FileManager.default.removeItem(atPath: b.stallFile)
            case .insideCommit:
                // This session takes the lock that every commit of finished runs
                // (and every recovery) takes first, and keeps it until one of B's
                // transactions waits for it.
                let holder = try await SQLProbe.open(database)
                try await holder.execute("BEGIN")
                try await holder.execute(
                    "SELECT value FROM durable_counters WHERE name = 'completion_seq' FOR UPDATE")
                let sessionsOfB = {
                    let ports = forwarder.upstreamPorts().map(String.init).joined(separator: ",")
                    return ports.isEmpty ? "FALSE" : "client_port IN (\(ports))"
                }
                var waiting = ""
                try await waitUntil("a write of worker B waits for the completion lock") {
                    waiting =
                        try await probe.strings(
                            "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND \(sessionsOfB())"
                        ).first ?? ""
                    return !waiting.isEmpty
                }
                _ = FileManager.default.createFile(atPath: a.stallFile, contents: nil)
                try network.linkDown()
                cutAt = .now
                inFlight = try await attempts(
                    probe, "SELECT id, attempt FROM tasks WHERE status = 'running' AND owner = '\(b.id)'")
                try await holder.execute("COMMIT")
                await holder.close()
                // B's write has the lock now. A one-statement cycle (the common
                // one) commits on the server without B hearing of it; a
                // transaction keeps the lock, idle, with nobody to tell it what
                // next, until the server ends the session.
                var state = ""
                try await waitUntil("worker B's write got the lock, cut off") {
                    state =
                        try await probe.strings("SELECT state FROM pg_stat_activity WHERE pid = \(waiting)").first
                        ?? "ended"
                    return state != "active"
                }
                heldLock = state == "idle in transaction"
                heldPID = waiting
                if !heldLock {
                    // What B had in flight includes what its last cycle claimed.
                    inFlight = try await attempts(
                        probe, "SELECT id, attempt FROM tasks WHERE status = 'running' AND owner = '\(b.id)'")
                }
                print("several hosts (inside a commit): B's session at the cut: \(state)")
            }

            // A takes B's tasks over only once their leases expire: B's worker is
            // never found dead (it is another host), and each run of B's that did
            // not commit before the cut ends abandoned for its lease.
            try await waitUntil("worker B's tasks are taken over", timeout: .seconds(120)) {
                try await probe.int("SELECT count(*) FROM tasks WHERE status = 'running' AND owner = '\(b.id)'") == 0
            }
            let takenOverAt = ContinuousClock.now
            #expect(
                try await probe.int("SELECT count(*) FROM workers WHERE id = '\(b.id)' AND stopped_at IS NULL") == 1,
                "worker B was not judged dead: it runs on another host")
            let abandoned = try await attempts(
                probe, "SELECT task_id, attempt FROM task_attempts WHERE outcome = 'abandoned'")
            #expect(!abandoned.isEmpty)
            // What B had in flight at the cut ended abandoned, unless a statement
            // B sent before the cut committed it afterwards: a one-statement commit
            // needs nothing more from its client, and one queued for the lock
            // behind B's idle transaction commits once the server ends that
            // session. Such a statement also claims: an abandoned run missing
            // from the snapshot is one of those claims (its owner, B, is checked
            // with the reasons below).
            for (task, attempt) in abandoned {
                if let expected = inFlight[task] {
                    #expect(expected == attempt, "task \(task): abandoned run \(attempt) was in flight on B")
                }
            }
            let finishedByB = Set(inFlight.keys).subtracting(abandoned.keys)
            if !finishedByB.isEmpty {
                let list = finishedByB.map(String.init).joined(separator: ",")
                #expect(
                    try await probe.strings(
                        "SELECT DISTINCT owner FROM task_attempts WHERE outcome = 'succeeded' AND task_id IN (\(list))")
                        == [b.id], "in flight at the cut and not abandoned: committed by B")
            }
            #expect(
                stalledB.isSubset(of: Set(abandoned.keys.compactMap { inputOf[$0] })),
                "B's stalled runs could not have committed")
            if heldLock {
                // B's transaction itself committed nothing: the server rolled it back.
                #expect(try await probe.int("SELECT count(*) FROM pg_stat_activity WHERE pid = \(heldPID)") == 0)
            }
            let reasons = try await probe.strings(
                "SELECT DISTINCT owner || ': ' || (error::jsonb ->> 'message') FROM task_attempts WHERE outcome = 'abandoned'"
            )
            #expect(reasons == ["\(b.id): the lease of worker \(b.id) expired"])

            // A runs them, while B is still away.
            try FileManager.default.removeItem(atPath: a.stallFile)
            let abandonedList = abandoned.keys.map(String.init).joined(separator: ",")
            try await waitUntil("worker A ran the tasks it took over") {
                try await probe.int(
                    "SELECT count(*) FROM tasks WHERE id IN (\(abandonedList)) AND status = 'succeeded'")
                    == abandoned.count
            }

            // A is held again, and B's link comes back: what is left is B's.
            _ = FileManager.default.createFile(atPath: a.stallFile, contents: nil)
            let linkUpAt = Int64(Date().timeIntervalSince1970 * 1000)
            try network.linkUp()
            let mendedAt = ContinuousClock.now
            try await waitUntil("worker B runs new tasks once its link is back", timeout: .seconds(120)) {
                try await succeeded(by: b.id, startedAfter: linkUpAt) >= 10
            }
            let backAt = ContinuousClock.now
            try FileManager.default.removeItem(atPath: a.stallFile)

            try await a.child.expectCleanExit(timeout: .seconds(120))
            try await b.child.expectCleanExit(timeout: .seconds(120))
            let finished = ContinuousClock.now

            // Who ran what: the execution logs (a line per run started).
            let (ranOnA, ranOnB) = (try lineCounts(of: a.log), try lineCounts(of: b.log))
            let idOf = Dictionary(uniqueKeysWithValues: inputOf.map { ($0.value, $0.key) })
            let startedOnB = Set(ranOnB.keys.compactMap { idOf[$0] })

            // B's late completions were refused: each run of B's that A took over
            // and that B had started ended on B with "taken over by another
            // worker". Any other refusal is of a run whose own commit went through
            // at the cut without B hearing of it (retried, then refused).
            let refused = Set(
                b.child.fullOutput.split(separator: "\n").compactMap { line -> Int64? in
                    guard let range = line.range(of: " was taken over by another worker"),
                        let word = line[..<range.lowerBound].split(separator: " ").last
                    else { return nil }
                    return Int64(word)
                })
            #expect(!refused.isEmpty)
            #expect(
                Set(abandoned.keys).intersection(startedOnB).isSubset(of: refused),
                "B's refused completions: \(refused.sorted()); taken over: \(abandoned.keys.sorted())")
            let refusedOwn = refused.subtracting(abandoned.keys)
            if !refusedOwn.isEmpty {
                let list = refusedOwn.map(String.init).joined(separator: ",")
                #expect(
                    try await probe.strings(
                        "SELECT DISTINCT owner FROM task_attempts WHERE outcome = 'succeeded' AND task_id IN (\(list))")
                        == [b.id], "refused, not taken over: \(refusedOwn.sorted())")
            }

            // One ending per task, its own result, one succeeded run each.
            #expect(try await probe.int("SELECT count(*) FROM tasks") == Self.count)
            #expect(try await probe.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'") == Self.count)
            #expect(
                try await probe.int(
                    "SELECT count(*) FROM tasks WHERE CAST(result AS BIGINT) <> 2 * CAST(input AS BIGINT)") == 0)
            #expect(
                try await probe.int("SELECT count(*) FROM task_attempts WHERE outcome = 'succeeded'") == Self.count)
            #expect(
                try await probe.int("SELECT count(DISTINCT task_id) FROM task_attempts WHERE outcome = 'succeeded'")
                    == Self.count)
            // The stored result of a task taken over is A's run's, not B's late one.
            let takenOverWinners = try await probe.table(
                """
                SELECT s.task_id, s.owner, s.attempt, t.attempt FROM task_attempts AS s JOIN tasks AS t ON t.id = s.task_id
                WHERE s.outcome = 'succeeded' AND s.task_id IN (\(abandonedList))
                """)
            #expect(takenOverWinners.count == abandoned.count)
            for row in takenOverWinners {
                let (task, attempt) = (Int64(row[0]) ?? 0, Int64(row[2]) ?? 0)
                #expect(row[1] == a.id, "task \(task) was finished by worker A")
                #expect(attempt > abandoned[task] ?? .max && row[3] == row[2])
            }
            // No runs but the succeeded ones and the abandoned ones taken from B.
            #expect(
                try await probe.int("SELECT count(*) FROM task_attempts WHERE outcome NOT IN ('succeeded', 'abandoned')")
                    == 0)
            #expect(try await probe.int("SELECT count(*) FROM task_attempts") == Self.count + abandoned.count)
            // B went on after its link came back.
            #expect(try await succeeded(by: b.id, startedAfter: linkUpAt) >= 10)

            // Re-executions: only runs that B had in flight, each twice at most (on
            // B, and on A after the lease); every other task once. B's stalled runs
            // certainly ran on B, so they ran twice.
            var executions = ranOnA
            for (input, runs) in ranOnB { executions[input, default: 0] += runs }
            #expect(executions.count == Self.count)
            let abandonedInputs = Set(abandoned.keys.compactMap { inputOf[$0] })
            let rerun = Set(executions.filter { $0.value > 1 }.keys)
            #expect(
                rerun.isSubset(of: abandonedInputs) && stalledB.isSubset(of: rerun),
                "re-run: \(rerun.sorted()), abandoned: \(abandonedInputs.sorted()), stalled: \(stalledB.sorted())")
            #expect(executions.filter { $0.value > 2 }.isEmpty)

            print(
                """
                several hosts, cut \(cut.rawValue): \(inFlight.count) task(s) in flight on B at the cut (\(stalledB.count) stalled), \
                \(abandoned.count) abandoned and run again by A, \(refused.count) late completion(s) refused, \
                \(rerun.count) re-execution(s); B ran \(try await succeeded(by: b.id)) task(s), \
                \(try await succeeded(by: b.id, startedAfter: linkUpAt)) after its link came back; \
                taken over \(takenOverAt - cutAt) after the cut, B back at work \(backAt - mendedAt) after the \
                link came back, \(finished - started) in all
                """)
        } catch {
            for worker in workers { worker.killNow() }
            print("worker A:\n\(a.child.output)\nworker B:\n\(b.child.output)")
            await probe.close()
            throw error
        }
        await probe.close()
    }

    /// Rows of (task id, attempt).
    private func attempts(_ probe: SQLProbe, _ sql: String) async throws -> [Int64: Int64] {
        var result: [Int64: Int64] = [:]
        for row in try await probe.table(sql) {
            guard row.count == 2, let id = Int64(row[0]), let attempt = Int64(row[1]) else {
                throw TestKitError("\(sql): unexpected row \(row)")
            }
            result[id] = attempt
        }
        return result
    }
}
