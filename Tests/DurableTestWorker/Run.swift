import ArgumentParser
import Dispatch
import Durable
import DurableTestKit
import Foundation
import Logging
import Synchronization

/// `run`: a worker with every job of the harness registered (KillJobs.swift,
/// FanSteps.swift, BenchJobs.swift in DurableTestKit), until it is killed; with
/// `--wait-ids`, until every task with an id in FIRST...LAST is finished (tasks not
/// created yet are waited for). Without `--wait-ids`, SIGTERM or SIGINT stop it
/// cleanly (running tasks are handed back) and it prints `{"runs": N}`, N being the
/// `noop` tasks it ran.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a worker until killed, stopped with SIGTERM, or until --wait-ids are finished.")

    @OptionGroup var common: CommonOptions
    @Option(help: "Tasks run at once.") var concurrency = 8
    @Option(help: "The execution log: each job appends a line per body of work it starts.") var log: String?
    @Option(name: .customLong("stalled-log"), help: "Where stalled bodies log their line.") var stalledLog: String?
    @Option(name: .customLong("delay-ms"), help: "How long a body works.") var delayMilliseconds = 3
    @Option(name: .customLong("stall-after"), help: "Bodies after the N-th this process started stall until killed.")
    var stallAfter: Int?
    @Option(name: .customLong("stall-file"), help: "crash-work stalls while this file exists.") var stallFile: String?
    @Option(name: .customLong("wait-ids"), help: "FIRST-LAST: run until these tasks are finished.") var waitIDs: IDRange?
    @Option(name: .customLong("recovery-interval-ms")) var recoveryIntervalMilliseconds: Int?
    @Option(name: .customLong("sleep-suspend-ms"), help: "The engine's sleepSuspendThreshold.")
    var sleepSuspendMilliseconds: Int?
    @Option(name: .customLong("nap-ms"), help: "The durable sleep of napper.") var napMilliseconds = 1000
    @Option(name: .customLong("clock-offset-ms"), help: "Puts the engine's clock this far ahead.")
    var clockOffsetMilliseconds = 0
    @Option(name: .customLong("lease-ms"), help: "The lease duration (default 30 s).") var leaseMilliseconds: Int?
    @Option(help: "FULL or NORMAL (PRAGMA synchronous).") var sync: SyncMode?
    @Option(name: .customLong("shutdown-timeout-ms"), help: "The grace period of running tasks at a clean stop.")
    var shutdownTimeoutMilliseconds = 0
    @Option(help: "A file created once the worker loop has started.") var ready: String?

    func validate() throws {
        guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
        guard delayMilliseconds >= 0, napMilliseconds >= 0, shutdownTimeoutMilliseconds >= 0 else {
            throw ValidationError("times must not be negative")
        }
    }

    func run() async {
        await Worker.perform("run", common) { logger in
            var configuration = Worker.configuration(concurrency: concurrency)
            if clockOffsetMilliseconds > 0 { configuration.clock = OffsetClock(offset: Int64(clockOffsetMilliseconds)) }
            configuration.gracefulShutdownTimeout = .milliseconds(shutdownTimeoutMilliseconds)
            if let interval = recoveryIntervalMilliseconds { configuration.recoveryInterval = .milliseconds(interval) }
            if let lease = leaseMilliseconds { configuration.leaseDuration = .milliseconds(lease) }
            if let threshold = sleepSuspendMilliseconds {
                configuration.sleepSuspendThreshold = .milliseconds(threshold)
            }
            let engine = try await Worker.openEngine(common.database, configuration: configuration, sqlite: Worker.sqlite(sync: sync), logger: logger)
            let runs = RunCount()
            register(on: engine, runs: runs)
            if let ids = waitIDs?.ids {
                try await engine.run { engine in try await Worker.wait(for: ids, in: engine) }
            } else {
                try await runUntilStopped(engine)
                say(#"{"runs":\#(runs.value)}"#)
            }
        }
    }

    private func register(on engine: TaskEngine, runs: RunCount) {
        let work = Workload(
            log: log, delay: .milliseconds(delayMilliseconds), stallAfter: stallAfter, stalledLog: stalledLog)
        engine.register(CrashWork(work: work, stallFile: stallFile))
        engine.register(Sleeper(log: log))
        engine.register(Napper(log: log, nap: .milliseconds(napMilliseconds)))
        engine.register(FanSteps(work: work))
        registerTortureJobs(on: engine, work: work)
        engine.register(Noop(onRun: runs.add))
        engine.register(Sleepy(log: log))
        engine.register(Spanned(log: log))
        engine.register(AwaitMessage())
    }

    /// Runs the worker until SIGTERM or SIGINT; creates the `--ready` file once the
    /// worker loop has started.
    private func runUntilStopped(_ engine: TaskEngine) async throws {
        let worker = Task { try await engine.run() }
        let sources = [SIGTERM, SIGINT].map { signalNumber in
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { @Sendable in worker.cancel() }
            source.resume()
            return source
        }
        defer { sources.forEach { $0.cancel() } }
        if let ready {
            // The worker registers itself and starts claiming right after run() begins.
            try await Task.sleep(for: .milliseconds(20))
            _ = FileManager.default.createFile(atPath: ready, contents: Data())
        }
        try await worker.value
    }
}

/// How many `noop` tasks this process ran.
final class RunCount: Sendable {
    private let count = Atomic<Int>(0)
    var value: Int { count.load(ordering: .relaxed) }
    @Sendable func add() { count.add(1, ordering: .relaxed) }
}

/// The system clock moved `offset` milliseconds ahead (time travel for durable sleeps).
struct OffsetClock: TaskClock {
    let offset: Int64

    func now() -> Int64 { SystemClock().now() + offset }

    func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}
