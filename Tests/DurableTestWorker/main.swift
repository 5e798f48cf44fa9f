// DurableTestWorker: a worker process that the crash and multi-process tests start,
// kill with SIGKILL and start again. A test tool: bad arguments end it with
// ArgumentParser's message and usage (exit status 64); a failing engine call ends it
// with exit status 1.
//
//     DurableTestWorker <db-path> run [--concurrency N] [--log FILE] [--delay-ms N]
//                                     [--stall-file FILE --stalled-log FILE]
//                                     [--wait-ids FIRST-LAST] [--recovery-interval-ms N]
//                                     [--stall-after N] [--sleep-suspend-ms N] [--nap-ms N]
//                                     [--clock-offset-ms N] [--lease-ms N]
//     DurableTestWorker <db-path> submit --count N --ack FILE [--key-prefix P] [--delay-ms N]
//     DurableTestWorker <db-path> open --go-file FILE
//
// `run` registers the jobs below and runs a worker: until killed, or, with
// `--wait-ids`, until every task with an id in FIRST...LAST is finished (tasks not
// created yet are waited for). Jobs append one line per execution to the `--log`
// file with a single O_APPEND write: "input\n" for `crash-work` and `sleeper`; for
// the durable-execution jobs one line per step body or child run, as described at
// `pipeline`, `leaf`, `napper` and `fan-steps` (FanSteps.swift). With `--stall-after N`, the step bodies and
// child runs of `pipeline` after the N-th this process started stall until it is
// killed. `--sleep-suspend-ms` sets the engine's sleepSuspendThreshold, `--nap-ms`
// the durable sleep of `napper` (default 1000), and `--clock-offset-ms` puts the
// engine's clock that far ahead of the system clock (time travel for durable sleeps);
// `--lease-ms` sets the lease duration (default 30 s).
//
// `submit` creates `crash-work` tasks 0..<N one at a time with the idempotency key
// "<prefix><i>", appending "i\n" to the `--ack` file after each creation returned,
// and pausing `--delay-ms` between creations.
//
// `open` prints "ready", waits until the `--go-file` exists (looking every 0.1 ms),
// then opens the database (creating and migrating it if needed), closes it and
// prints "opened": tests start several, then release them together.

import ArgumentParser
import Durable
import Foundation
import Logging
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// MARK: - Execution log

/// Appends `line` plus a newline to `path` with one O_APPEND write, so that lines
/// of concurrent writers (tasks, processes) never interleave and a line is either
/// fully in the file or absent after a SIGKILL.
func appendLine(_ line: String, to path: String) {
    let bytes = Array((line + "\n").utf8)
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    guard fd >= 0 else { fail("cannot open \(path) for appending: errno \(errno)") }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    guard written == bytes.count else { fail("short write to \(path): \(written) of \(bytes.count) bytes") }
}

func fail(_ message: String, status: Int32 = 1) -> Never {
    FileHandle.standardError.write(Data("DurableTestWorker: \(message)\n".utf8))
    exit(status)
}

// MARK: - Jobs

/// Logs its execution, stalls while the stall file exists or once this process
/// started more than `stallAfter` runs (the test then kills the process with this
/// task certainly in flight), works a few milliseconds, and returns twice its input.
struct CrashWork: Job {
    static let name = "crash-work"
    let log: String?
    let delay: Duration
    let stallFile: String?
    let stallAfter: Int?
    let stalledLog: String?

    func run(_ input: Int, context: TaskContext) async throws -> Int {
        if let log { appendLine("\(input)", to: log) }
        let started = startedBodies.add(1, ordering: .relaxed).newValue
        if let stallAfter, started > stallAfter {
            if let stalledLog { appendLine("\(input)", to: stalledLog) }
            while true { try await Task.sleep(for: .seconds(60)) }
        }
        if let stallFile, FileManager.default.fileExists(atPath: stallFile) {
            if let stalledLog { appendLine("\(input)", to: stalledLog) }
            while FileManager.default.fileExists(atPath: stallFile) {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        if delay > .zero { try await Task.sleep(for: delay) }
        return input * 2
    }
}

/// Logs its execution, then sleeps ten minutes: only cancellation (or a kill)
/// ends it in a test.
struct Sleeper: Job {
    static let name = "sleeper"
    let log: String?

    func run(_ input: String, context: TaskContext) async throws -> String {
        if let log { appendLine(input, to: log) }
        try await Task.sleep(for: .seconds(600))
        return input
    }
}

/// Durable execution under crashes: a multi-step, multi-child job. For input `n`:
/// step "fetch" (returns n·1000), children "part" #0 and #1 (`leaf` n·10+0 and
/// n·10+1), step "middle" (fetch + n), child "part" #2 (`leaf` n·10+2), gather, step
/// "combine" (middle + the children's results), which is the task's result:
/// 1211·n + 21. Each step body logs "step <name> <n>" as it starts, then works
/// through `stalledWork`.
struct Pipeline: Job {
    static let name = "pipeline"
    let log: String?
    let delay: Duration
    let stallAfter: Int?
    let stalledLog: String?

    func run(_ n: Int, context: TaskContext) async throws -> Int {
        // Steps last one to three delays, so that parents spread over the stages.
        let work = delay * (1 + n % 3)
        func body(_ step: String) async throws {
            try await stalledWork(
                "step \(step) \(n)", log: log, delay: work, stallAfter: stallAfter, stalledLog: stalledLog)
        }
        let fetched = try await context.step("fetch") {
            try await body("fetch")
            return n * 1000
        }
        var parts: [DurableTask<Int>] = []
        for k in 0..<2 { parts.append(try await context.createTask(Leaf.self, n * 10 + k, name: "part")) }
        let middle = try await context.step("middle") {
            try await body("middle")
            return fetched + n
        }
        parts.append(try await context.createTask(Leaf.self, n * 10 + 2, name: "part"))
        let values = try await context.gather(parts)
        return try await context.step("combine") {
            try await body("combine")
            return middle + values.reduce(0, +)
        }
    }
}

/// A child of `pipeline`: for input m = n·10 + k, logs "child <k> of <n>" as it
/// starts, works through `stalledWork`, and returns m·7.
struct Leaf: Job {
    static let name = "leaf"
    let log: String?
    let delay: Duration
    let stallAfter: Int?
    let stalledLog: String?

    func run(_ m: Int, context: TaskContext) async throws -> Int {
        try await stalledWork(
            "child \(m % 10) of \(m / 10)", log: log, delay: delay * (1 + m % 4), stallAfter: stallAfter,
            stalledLog: stalledLog)
        return m * 7
    }
}

/// Durable sleep under crashes: step "before" (logs "step before <n>", returns n),
/// a durable sleep of `nap`, step "after" (logs "step after <n>", returns before·3),
/// which is the task's result.
struct Napper: Job {
    static let name = "napper"
    let log: String?
    let nap: Duration

    func run(_ n: Int, context: TaskContext) async throws -> Int {
        let before = try await context.step("before") {
            if let log { appendLine("step before \(n)", to: log) }
            return n
        }
        try await context.sleep(for: nap)
        return try await context.step("after") {
            if let log { appendLine("step after \(n)", to: log) }
            return before * 3
        }
    }
}

/// How many step bodies and child runs this process started.
let startedBodies = Atomic<Int>(0)

/// Logs `line` to `log`, then works for `delay`. A body started after the first
/// `stallAfter` also logs `line` to `stalledLog` and stalls until the process is
/// killed: the test kills it with this body certainly in progress, and a test that
/// falls behind the worker finds it stopped instead of finished.
func stalledWork(_ line: String, log: String?, delay: Duration, stallAfter: Int?, stalledLog: String?)
    async throws
{
    if let log { appendLine(line, to: log) }
    let started = startedBodies.add(1, ordering: .relaxed).newValue
    if let stallAfter, started > stallAfter {
        if let stalledLog { appendLine(line, to: stalledLog) }
        while true { try await Task.sleep(for: .seconds(60)) }
    }
    if delay > .zero { try await Task.sleep(for: delay) }
}

/// The system clock moved `offset` milliseconds ahead.
struct OffsetClock: TaskClock {
    let offset: Int64

    func now() -> Int64 { SystemClock().now() + offset }

    func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration)
    }
}

// MARK: - Arguments

struct Options: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "DurableTestWorker",
        abstract: "A worker process for Durable's crash and multi-process tests (modes: run, submit, open).")

    @Argument(help: "The database file.") var database: String
    @Argument(help: "run or submit.") var mode: String
    @Option var concurrency = 8
    @Option var log: String?
    @Option(name: .customLong("delay-ms")) var delayMilliseconds = 3
    @Option(name: .customLong("stall-file")) var stallFile: String?
    @Option(name: .customLong("stalled-log")) var stalledLog: String?
    @Option(name: .customLong("wait-ids"), help: "FIRST-LAST") var waitIDs: IDRange?
    @Option(name: .customLong("recovery-interval-ms")) var recoveryIntervalMilliseconds: Int?
    @Option(name: .customLong("stall-after")) var stallAfter: Int?
    @Option(name: .customLong("sleep-suspend-ms")) var sleepSuspendMilliseconds: Int?
    @Option(name: .customLong("nap-ms")) var napMilliseconds = 1000
    @Option(name: .customLong("clock-offset-ms")) var clockOffsetMilliseconds = 0
    @Option(name: .customLong("lease-ms")) var leaseMilliseconds: Int?
    @Option var count = 0
    @Option var ack: String?
    @Option(name: .customLong("key-prefix")) var keyPrefix = "submit-"
    @Option(name: .customLong("go-file")) var goFile: String?

    func validate() throws {
        switch mode {
        case "run":
            guard concurrency > 0 else { throw ValidationError("--concurrency must be at least 1") }
        case "submit":
            guard ack != nil else { throw ValidationError("submit needs --ack FILE") }
        case "open":
            guard goFile != nil else { throw ValidationError("open needs --go-file FILE") }
        default:
            throw ValidationError("unknown mode \(mode): use run, submit or open")
        }
    }
}

/// `FIRST-LAST`: a range of task ids.
struct IDRange: ExpressibleByArgument {
    let ids: ClosedRange<Int64>

    init?(argument: String) {
        let parts = argument.split(separator: "-").compactMap { Int64($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { return nil }
        ids = parts[0]...parts[1]
    }
}

// MARK: - Modes

enum WorkerMain {
    static func main() async {
        let options = Options.parseOrExit()
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            let level = ProcessInfo.processInfo.environment["DURABLE_WORKER_LOG_LEVEL"]
            handler.logLevel = level.flatMap { Logger.Level(rawValue: $0) } ?? .notice
            return handler
        }
        let logger = Logger(label: "DurableTestWorker[\(getpid())]")
        if let goFile = options.goFile { waitForGo(goFile) }
        do {
            var configuration = EngineConfiguration()
            if options.clockOffsetMilliseconds > 0 {
                configuration.clock = OffsetClock(offset: Int64(options.clockOffsetMilliseconds))
            }
            configuration.maxConcurrentTasks = options.concurrency
            configuration.gracefulShutdownTimeout = .zero
            if let interval = options.recoveryIntervalMilliseconds {
                configuration.recoveryInterval = .milliseconds(interval)
            }
            if let lease = options.leaseMilliseconds {
                configuration.leaseDuration = .milliseconds(lease)
            }
            if let threshold = options.sleepSuspendMilliseconds {
                configuration.sleepSuspendThreshold = .milliseconds(threshold)
            }
            let engine = try TaskEngine(path: options.database, configuration: configuration, logger: logger)
            switch options.mode {
            case "run": try await run(engine, options)
            case "open":
                try engine.close()
                print("opened")
            default: try await submit(engine, options)
            }
        } catch {
            fail("\(options.mode) on \(options.database) failed: \(error)")
        }
    }

    /// Prints "ready", then returns as soon as `path` exists.
    static func waitForGo(_ path: String) {
        FileHandle.standardOutput.write(Data("ready\n".utf8))
        while !FileManager.default.fileExists(atPath: path) { usleep(100) }
    }

    static func run(_ engine: TaskEngine, _ options: Options) async throws {
        engine.register(
            CrashWork(
                log: options.log, delay: .milliseconds(options.delayMilliseconds), stallFile: options.stallFile,
                stallAfter: options.stallAfter, stalledLog: options.stalledLog))
        engine.register(Sleeper(log: options.log))
        let delay = Duration.milliseconds(options.delayMilliseconds)
        engine.register(
            Pipeline(log: options.log, delay: delay, stallAfter: options.stallAfter, stalledLog: options.stalledLog))
        engine.register(
            Leaf(log: options.log, delay: delay, stallAfter: options.stallAfter, stalledLog: options.stalledLog))
        engine.register(Napper(log: options.log, nap: .milliseconds(options.napMilliseconds)))
        engine.register(
            FanSteps(log: options.log, delay: delay, stallAfter: options.stallAfter, stalledLog: options.stalledLog))
        guard let ids = options.waitIDs?.ids else {
            try await engine.run()
            return
        }
        try await engine.run { engine in
            let records = try await records(ids, in: engine)
            // Wait with handles of each task's own job, through the public API.
            let work = records.filter { $0.job == CrashWork.name }.map(\.id)
            let sleepers = records.filter { $0.job == Sleeper.name }.map(\.id)
            var workTasks: [DurableTask<Int>] = []
            for id in work { workTasks.append(try await engine.task(id: id, as: CrashWork.self)) }
            // The durable-execution jobs return Int too: wait for them with the others.
            for record in records {
                switch record.job {
                case Pipeline.name: workTasks.append(try await engine.task(id: record.id, as: Pipeline.self))
                case Leaf.name: workTasks.append(try await engine.task(id: record.id, as: Leaf.self))
                case Napper.name: workTasks.append(try await engine.task(id: record.id, as: Napper.self))
                case FanSteps.name: workTasks.append(try await engine.task(id: record.id, as: FanSteps.self))
                default: break
                }
            }
            var sleeperTasks: [DurableTask<String>] = []
            for id in sleepers { sleeperTasks.append(try await engine.task(id: id, as: Sleeper.self)) }
            if !workTasks.isEmpty { _ = try await engine.wait(workTasks) }
            if !sleeperTasks.isEmpty { _ = try await engine.wait(sleeperTasks) }
        }
    }

    /// The records of tasks `ids`, waiting for those not created yet.
    static func records(_ ids: ClosedRange<Int64>, in engine: TaskEngine) async throws -> [TaskRecord] {
        var records: [TaskRecord] = []
        for raw in ids {
            while true {
                do {
                    records.append(try await engine.record(of: TaskID(raw)))
                    break
                } catch let error as DurableError where error.code == .unknownTask {
                    try await Task.sleep(for: .milliseconds(5))
                }
            }
        }
        return records
    }

    static func submit(_ engine: TaskEngine, _ options: Options) async throws {
        guard let ack = options.ack else { return }
        for i in 0..<options.count {
            _ = try await engine.createTask(CrashWork.self, i, key: "\(options.keyPrefix)\(i)")
            appendLine("\(i)", to: ack)
            if options.delayMilliseconds > 0 { try await Task.sleep(for: .milliseconds(options.delayMilliseconds)) }
        }
    }
}

await WorkerMain.main()
exit(0)
