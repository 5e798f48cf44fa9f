import ArgumentParser
import Durable
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// `Torture worker <mode> <db> [options]`: the child processes the scenarios start,
// kill and restart. Engine errors end a worker with a line
// "ERROR <code>: <message>" on standard output and exit status 3; bad arguments with
// ArgumentParser's message (status 64). Modes:
//
//   batch  DB [--log F] [--stalled-log F] [--concurrency N] [--delay-ms N] [--stall-after N]
//             [--wait-ids FIRST-LAST]
//          runs a worker for the kill scenario's jobs until killed or, with --wait-ids,
//          until those tasks are finished.
//   share  DB --index I --processes P --seconds S --log F [--seed N] [--concurrency N] [--hang-limit S]
//          one of the processes sharing a file: submits (with keys, also other
//          processes' keys), runs a worker and waits on its own and others' tasks.
//   submit DB --count N --ack F [--payload BYTES] [--key-prefix P]
//          creates `filler` tasks one per commit, appending "i" to F after each.
//   serve  DB [--seconds S] [--wait-ids FIRST-LAST] [--concurrency N]
//          runs a worker for S seconds or until those tasks are finished, then stops
//          cleanly and closes the engine; prints "STOPPED" last.
//   probe  DB
//          opens the file and tries a read, a listing, a creation and a worker; prints
//          one "RESULT <operation> ok|error ..." line each.
//
// Every mode takes --fsize-limit BYTES (RLIMIT_FSIZE for this process, with SIGXFSZ
// ignored, so that writes past it fail with EFBIG).

struct WorkerOptions: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "Torture worker", abstract: "A worker process of the torture suite's scenarios.")

    @Argument(help: "batch, share, submit, serve or probe.") var mode: String
    @Argument(help: "The database file.") var database: String
    @Option var log: String?
    @Option(name: .customLong("stalled-log")) var stalledLog: String?
    @Option var concurrency = 8
    @Option(name: .customLong("delay-ms")) var delayMilliseconds = 0
    @Option(name: .customLong("stall-after")) var stallAfter: Int?
    @Option(name: .customLong("wait-ids"), help: "FIRST-LAST") var waitIDRange: String?
    @Option var index = 0
    @Option var processes = 1
    @Option var seconds = 1.0
    @Option var seed: UInt64 = 1
    @Option(name: .customLong("hang-limit")) var hangLimit = 60.0
    @Option var count = 0
    @Option var ack: String?
    @Option var payload = 1000
    @Option(name: .customLong("key-prefix")) var keyPrefix = "fill-"
    @Option(name: .customLong("fsize-limit")) var fileSizeLimit: Int?

    /// `--wait-ids FIRST-LAST` as a range (checked by `validate()`).
    var waitIDs: ClosedRange<Int64>? {
        guard let waitIDRange else { return nil }
        let bounds = waitIDRange.split(separator: "-").compactMap { Int64($0) }
        return bounds.count == 2 && bounds[0] <= bounds[1] ? bounds[0]...bounds[1] : nil
    }

    func validate() throws {
        guard ["batch", "share", "submit", "serve", "probe"].contains(mode) else {
            throw ValidationError("unknown mode \(mode)")
        }
        guard concurrency >= 1, processes >= 1 else { throw ValidationError("--concurrency and --processes must be at least 1") }
        guard delayMilliseconds >= 0, seconds >= 0, hangLimit >= 0, count >= 0, payload >= 0 else {
            throw ValidationError("times and counts must not be negative")
        }
        if let waitIDRange, waitIDs == nil { throw ValidationError("--wait-ids needs FIRST-LAST, not \(waitIDRange)") }
    }
}

enum WorkerMode {
    static func main(_ arguments: [String]) async -> Never {
        let options = WorkerOptions.parseOrExit(arguments)
        if let limit = options.fileSizeLimit { limitFileSize(to: limit) }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            let level = ProcessInfo.processInfo.environment["TORTURE_WORKER_LOG_LEVEL"]
            handler.logLevel = level.flatMap { Logger.Level(rawValue: $0) } ?? .notice
            return handler
        }
        let logger = Logger(label: "torture-\(options.mode)[\(getpid())]")
        do {
            switch options.mode {
            case "batch": try await batch(options, logger)
            case "share": try await share(options, logger)
            case "submit": try await submit(options, logger)
            case "serve": try await serve(options, logger)
            case "probe": await probe(options, logger)
            default:
                FileHandle.standardError.write(Data("Torture worker: unknown mode \(options.mode)\n".utf8))
                exit(2)
            }
        } catch {
            report(error)
            exit(3)
        }
        exit(0)
    }

    /// Prints an error as "ERROR <code>: <message>".
    static func report(_ error: any Error) {
        let line: String
        if let error = error as? DurableError {
            line = "ERROR \(error.code): \(error.message)"
        } else {
            line = "ERROR \(String(reflecting: type(of: error))): \(error)"
        }
        say(line)
    }

    static func limitFileSize(to bytes: Int) {
        signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit(rlim_cur: rlim_t(bytes), rlim_max: rlim_t(bytes))
        #if os(Linux)
            let result = setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
        #else
            let result = setrlimit(RLIMIT_FSIZE, &limit)
        #endif
        if result != 0 {
            say("ERROR setup: setrlimit(RLIMIT_FSIZE) failed with errno \(errno)")
            exit(4)
        }
    }

    static func configuration(_ options: WorkerOptions) -> EngineConfiguration {
        var configuration = EngineConfiguration()
        configuration.maxConcurrentTasks = options.concurrency
        configuration.gracefulShutdownTimeout = .zero
        return configuration
    }

    // MARK: batch

    static func batch(_ options: WorkerOptions, _ logger: Logger) async throws {
        let engine = try TaskEngine(path: options.database, configuration: configuration(options), logger: logger)
        let work = Workload(
            log: options.log, delay: .milliseconds(options.delayMilliseconds), stallAfter: options.stallAfter,
            stalledLog: options.stalledLog)
        registerJobs(on: engine, work: work)
        guard let ids = options.waitIDs else {
            try await engine.run()
            return
        }
        try await engine.run { engine in
            let tasks = try await reattach(ids, in: engine)
            _ = try await engine.wait(tasks)
        }
    }

    /// Handles of tasks `ids` (each of a job with an Int result).
    static func reattach(_ ids: ClosedRange<Int64>, in engine: TaskEngine) async throws -> [DurableTask<Int>] {
        var tasks: [DurableTask<Int>] = []
        for raw in ids {
            let id = TaskID(raw)
            switch try await engine.record(of: id).job {
            case Pipeline.name: tasks.append(try await engine.task(id: id, as: Pipeline.self))
            case Leaf.name: tasks.append(try await engine.task(id: id, as: Leaf.self))
            case Plain.name: tasks.append(try await engine.task(id: id, as: Plain.self))
            case Filler.name: tasks.append(try await engine.task(id: id, as: Filler.self))
            case ShareWork.name: tasks.append(try await engine.task(id: id, as: ShareWork.self))
            default: break
            }
        }
        return tasks
    }

    // MARK: share

    static func share(_ options: WorkerOptions, _ logger: Logger) async throws {
        guard let log = options.log else { throw TortureFailure("share needs --log") }
        var configuration = configuration(options)
        configuration.gracefulShutdownTimeout = .seconds(10)
        let engine = try TaskEngine(path: options.database, configuration: configuration, logger: logger)
        registerJobs(on: engine, work: Workload(), shareLog: log)
        let me = options.index
        let hangLimit = Duration.milliseconds(Int(options.hangLimit * 1000))
        var rng = SeededGenerator(seed: options.seed &+ UInt64(me) &* 7919)
        let summary = try await engine.run { engine -> String in
            var known: [Int: DurableTask<Int>] = [:]
            var own = 0
            var attached = 0
            var waits = 0
            func input(_ process: Int, _ k: Int) -> Int { process * 1_000_000 + k }
            func key(_ process: Int, _ k: Int) -> String { "p\(process)-\(k)" }
            func check(_ pairs: [(Int, Int)]) throws {
                for (input, value) in pairs where value != Expected.share(input) {
                    throw TortureFailure("task with input \(input) returned \(value), not \(Expected.share(input))")
                }
            }
            let end = ContinuousClock.now + .milliseconds(Int(options.seconds * 1000))
            while ContinuousClock.now < end {
                // Submit own tasks: a batch in one transaction, or one at a time.
                let count = Int.random(in: 1...12, using: &rng)
                let inputs = (own..<(own + count)).map { input(me, $0) }
                if Bool.random(using: &rng) {
                    let tasks = try await engine.createTasks(
                        ShareWork.self, (own..<(own + count)).map { TaskRequest(input(me, $0), key: key(me, $0)) })
                    for (value, task) in zip(inputs, tasks) { known[value] = task }
                } else {
                    for k in own..<(own + count) {
                        known[input(me, k)] = try await engine.createTask(ShareWork.self, input(me, k), key: key(me, k))
                    }
                }
                own += count
                // Attach to other processes' tasks by their keys (creating them if
                // their owner has not yet: creation is idempotent across processes).
                if options.processes > 1 {
                    for _ in 0..<Int.random(in: 0...3, using: &rng) {
                        var other = Int.random(in: 0..<options.processes, using: &rng)
                        if other == me { other = (other + 1) % options.processes }
                        let k = Int.random(in: 0..<(own + 5), using: &rng)
                        if known[input(other, k)] == nil {
                            known[input(other, k)] = try await engine.createTask(
                                ShareWork.self, input(other, k), key: key(other, k))
                            attached += 1
                        }
                    }
                }
                // Wait on some of what is known, one way or another.
                let pairs = Array(known)
                let some = (0..<Int.random(in: 1...6, using: &rng)).compactMap { _ in pairs.randomElement(using: &rng) }
                waits += 1
                switch Int.random(in: 0..<4, using: &rng) {
                case 0:
                    _ = try await engine.wait(some.map(\.1), timeout: .milliseconds(50), returnWhen: .firstCompleted)
                case 1:
                    let values = try await withTimeout("gather of \(some.count) task(s)", hangLimit) {
                        try await engine.gather(some.map(\.1))
                    }
                    try check(Array(zip(some.map(\.0), values)))
                case 2:
                    let values = try await withTimeout("asCompleted over \(some.count) task(s)", hangLimit) {
                        var values: [TaskID: Int] = [:]
                        for try await task in engine.asCompleted(some.map(\.1)) {
                            values[task.id] = try await task.result()
                        }
                        return values
                    }
                    try check(some.map { ($0.0, values[$0.1.id] ?? -1) })
                default:
                    if let (value, task) = some.first {
                        let result = try await withTimeout("waitFor task \(task.id)", hangLimit) {
                            try await engine.waitFor(task, timeout: nil)
                        }
                        try check([(value, result)])
                    }
                }
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...20, using: &rng)))
            }
            // Every task this process knows must finish within the hang limit.
            let all = Array(known)
            let (_, pending) = try await engine.wait(all.map(\.1), timeout: hangLimit)
            if !pending.isEmpty {
                throw TortureFailure(
                    "\(pending.count) waited task(s) unfinished after \(options.hangLimit) s: "
                        + "\(pending.map(\.id).sorted().prefix(10))")
            }
            let values = try await engine.gather(all.map(\.1))
            try check(Array(zip(all.map(\.0), values)))
            return "SHARE \(me) own=\(own) attached=\(attached) waits=\(waits) known=\(known.count)"
        }
        say(summary)
    }

    // MARK: submit

    static func submit(_ options: WorkerOptions, _ logger: Logger) async throws {
        guard let ack = options.ack else { throw TortureFailure("submit needs --ack") }
        let engine = try TaskEngine(path: options.database, configuration: configuration(options), logger: logger)
        let payload = String(repeating: "x", count: options.payload)
        for i in 0..<options.count {
            _ = try await engine.createTask(Filler.self, "\(i):\(payload)", key: "\(options.keyPrefix)\(i)")
            try appendLine("\(i)", to: ack)
        }
        say("SUBMITTED \(options.count)")
    }

    // MARK: serve

    static func serve(_ options: WorkerOptions, _ logger: Logger) async throws {
        let engine = try TaskEngine(path: options.database, configuration: configuration(options), logger: logger)
        registerJobs(on: engine, work: Workload(log: options.log))
        try await engine.run { engine in
            if let ids = options.waitIDs {
                let tasks = try await reattach(ids, in: engine)
                _ = try await engine.wait(tasks)
            } else {
                try await Task.sleep(for: .milliseconds(Int(options.seconds * 1000)))
            }
        }
        // A row edited into an unknown status makes statistics fail, naming it.
        do {
            say("STATISTICS \(try await engine.statistics())")
        } catch let error as DurableError {
            say("STATISTICS error \(error.code): \(error.message)")
        }
        // A clean stop folds the WAL into the file and closes every connection.
        try engine.close()
        say("STOPPED descriptors-still-open=\(openDescriptors(on: options.database))")
    }

    /// How many of this process's file descriptors point to the database or its -wal/-shm.
    static func openDescriptors(on path: String) -> Int {
        #if os(Linux)
            let resolved = URL(fileURLWithPath: path).resolvingSymlinksInPath().path
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
            return entries.filter { entry in
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(entry)")) ?? ""
                return target.hasPrefix(resolved)
            }.count
        #else
            return -1
        #endif
    }

    // MARK: probe

    static func probe(_ options: WorkerOptions, _ logger: Logger) async {
        func result(_ operation: String, _ body: () async throws -> String) async {
            do {
                say("RESULT \(operation) ok \(try await body())")
            } catch let error as DurableError {
                say("RESULT \(operation) error \(error.code): \(error.message)")
            } catch {
                say("RESULT \(operation) error \(String(reflecting: type(of: error))): \(error)")
            }
        }
        let engine: TaskEngine
        do {
            engine = try TaskEngine(path: options.database, configuration: configuration(options), logger: logger)
            say("RESULT open ok")
        } catch let error as DurableError {
            say("RESULT open error \(error.code): \(error.message)")
            return
        } catch {
            say("RESULT open error \(String(reflecting: type(of: error))): \(error)")
            return
        }
        registerJobs(on: engine, work: Workload())
        await result("read") { "\(try await engine.record(of: TaskID(1)).status)" }
        await result("list") { "\(try await engine.tasks(matching: TaskQuery(limit: 100_000)).count) task(s)" }
        await result("statistics") { "\(try await engine.statistics())" }
        await result("create") { "task \(try await engine.createTask(Plain.self, 1).id)" }
        await result("worker") {
            try await engine.run { _ in try await Task.sleep(for: .seconds(1)) }
            return "ran 1 s"
        }
    }
}

/// Runs `operation`; fails with `what` if it has not returned after `timeout`.
func withTimeout<T: Sendable>(
    _ what: String, _ timeout: Duration, _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TortureFailure("hung: \(what) did not return within \(timeout)")
        }
        return value
    }
}
