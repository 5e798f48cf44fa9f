// DurableTestWorker: a worker process that the crash and multi-process tests start,
// kill with SIGKILL and start again. A test tool: bad arguments end it with a clear
// message and exit status 2; a failing engine call ends it with exit status 1.
//
//     DurableTestWorker <db-path> run [--concurrency N] [--log FILE] [--delay-ms N]
//                                     [--stall-file FILE --stalled-log FILE]
//                                     [--wait-ids FIRST-LAST] [--recovery-interval-ms N]
//     DurableTestWorker <db-path> submit --count N --ack FILE [--key-prefix P] [--delay-ms N]
//
// `run` registers the jobs below and runs a worker: until killed, or, with
// `--wait-ids`, until every task with an id in FIRST...LAST is finished (tasks not
// created yet are waited for). Jobs append one line per execution, "input\n", to
// the `--log` file with a single O_APPEND write.
//
// `submit` creates `crash-work` tasks 0..<N one at a time with the idempotency key
// "<prefix><i>", appending "i\n" to the `--ack` file after each creation returned,
// and pausing `--delay-ms` between creations.

import Durable
import Foundation
import Logging

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

/// Logs its execution, stalls while the stall file exists (the test then kills the
/// process with this task certainly in flight), works a few milliseconds, and
/// returns twice its input.
struct CrashWork: Job {
    static let name = "crash-work"
    let log: String?
    let delay: Duration
    let stallFile: String?
    let stalledLog: String?

    func run(_ input: Int, context: TaskContext) async throws -> Int {
        if let log { appendLine("\(input)", to: log) }
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

// MARK: - Arguments

struct Options {
    var database = ""
    var mode = ""
    var concurrency = 8
    var log: String?
    var delayMilliseconds = 3
    var stallFile: String?
    var stalledLog: String?
    var waitIDs: ClosedRange<Int64>?
    var recoveryIntervalMilliseconds: Int?
    var count = 0
    var ack: String?
    var keyPrefix = "submit-"

    static let usage = """
        usage: DurableTestWorker <db-path> run [--concurrency N] [--log FILE] [--delay-ms N]
                                              [--stall-file FILE --stalled-log FILE] [--wait-ids FIRST-LAST]
                                              [--recovery-interval-ms N]
               DurableTestWorker <db-path> submit --count N --ack FILE [--key-prefix P] [--delay-ms N]
        """

    static func parse(_ arguments: [String]) -> Options {
        func bad(_ message: String) -> Never { fail("\(message)\n\(usage)", status: 2) }
        guard arguments.count >= 2 else { bad("missing arguments") }
        var options = Options()
        options.database = arguments[0]
        options.mode = arguments[1]
        var rest = arguments.dropFirst(2).makeIterator()
        func value(_ flag: String) -> String {
            guard let value = rest.next() else { bad("\(flag) needs a value") }
            return value
        }
        func number(_ flag: String) -> Int {
            let text = value(flag)
            guard let number = Int(text), number >= 0 else { bad("\(flag) needs a non-negative integer, not \(text)") }
            return number
        }
        while let flag = rest.next() {
            switch flag {
            case "--concurrency": options.concurrency = number(flag)
            case "--log": options.log = value(flag)
            case "--delay-ms": options.delayMilliseconds = number(flag)
            case "--stall-file": options.stallFile = value(flag)
            case "--stalled-log": options.stalledLog = value(flag)
            case "--count": options.count = number(flag)
            case "--ack": options.ack = value(flag)
            case "--key-prefix": options.keyPrefix = value(flag)
            case "--recovery-interval-ms": options.recoveryIntervalMilliseconds = number(flag)
            case "--wait-ids":
                let text = value(flag)
                let parts = text.split(separator: "-").compactMap { Int64($0) }
                guard parts.count == 2, parts[0] <= parts[1] else { bad("--wait-ids needs FIRST-LAST, not \(text)") }
                options.waitIDs = parts[0]...parts[1]
            default: bad("unknown option \(flag)")
            }
        }
        switch options.mode {
        case "run":
            guard options.concurrency > 0 else { bad("--concurrency must be at least 1") }
        case "submit":
            guard options.ack != nil else { bad("submit needs --ack FILE") }
        default:
            bad("unknown mode \(options.mode)")
        }
        return options
    }
}

// MARK: - Modes

enum WorkerMain {
    static func main() async {
        let options = Options.parse(Array(CommandLine.arguments.dropFirst()))
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            let level = ProcessInfo.processInfo.environment["DURABLE_WORKER_LOG_LEVEL"]
            handler.logLevel = level.flatMap { Logger.Level(rawValue: $0) } ?? .notice
            return handler
        }
        let logger = Logger(label: "DurableTestWorker[\(getpid())]")
        do {
            var configuration = EngineConfiguration()
            configuration.maxConcurrentTasks = options.concurrency
            configuration.gracefulShutdownTimeout = .zero
            if let interval = options.recoveryIntervalMilliseconds {
                configuration.recoveryInterval = .milliseconds(interval)
            }
            let engine = try TaskEngine(path: options.database, configuration: configuration, logger: logger)
            switch options.mode {
            case "run": try await run(engine, options)
            default: try await submit(engine, options)
            }
        } catch {
            fail("\(options.mode) on \(options.database) failed: \(error)")
        }
    }

    static func run(_ engine: TaskEngine, _ options: Options) async throws {
        engine.register(
            CrashWork(
                log: options.log, delay: .milliseconds(options.delayMilliseconds), stallFile: options.stallFile,
                stalledLog: options.stalledLog))
        engine.register(Sleeper(log: options.log))
        guard let ids = options.waitIDs else {
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
