import ArgumentParser
import Durable
import DurableTestKit
import Foundation
import Logging

/// `share`: one of the processes sharing a file in the torture suite's
/// many-processes scenario: for `--seconds`, submits tasks with keys (also other
/// processes' keys), runs a worker and waits on its own and others' tasks (each
/// wait bounded by `--hang-limit`); at the end waits for everything it knows and
/// prints a summary line.
struct Share: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "One of the processes sharing a file (torture suite).")

    @OptionGroup var common: CommonOptions
    @Option(help: "The share job's log (S and E lines with CLOCK_MONOTONIC times).") var log: String
    @Option var index = 0
    @Option var processes = 1
    @Option var seconds = 1.0
    @Option var seed: UInt64 = 1
    @Option var concurrency = 8
    @Option(name: .customLong("hang-limit"), help: "Seconds any wait may take.") var hangLimit = 60.0

    func validate() throws {
        guard concurrency >= 1, processes >= 1 else {
            throw ValidationError("--concurrency and --processes must be at least 1")
        }
        guard seconds >= 0, hangLimit >= 0 else { throw ValidationError("times must not be negative") }
    }

    func run() async {
        await Worker.perform("share", common) { logger in try await share(logger) }
    }

    private func share(_ logger: Logger) async throws {
        let options = self
        let log = options.log
        var configuration = Worker.configuration(concurrency: options.concurrency)
        configuration.gracefulShutdownTimeout = .seconds(10)
        let engine = try await Worker.openEngine(options.common.database, configuration: configuration, sqlite: Worker.sqlite(), logger: logger)
        registerTortureJobs(on: engine, work: Workload(), shareLog: log)
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
                    throw TestKitError("task with input \(input) returned \(value), not \(Expected.share(input))")
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
                throw TestKitError(
                    "\(pending.count) waited task(s) unfinished after \(options.hangLimit) s: "
                        + "\(pending.map(\.id).sorted().prefix(10))")
            }
            let values = try await engine.gather(all.map(\.1))
            try check(Array(zip(all.map(\.0), values)))
            return "SHARE \(me) own=\(own) attached=\(attached) waits=\(waits) known=\(known.count)"
        }
        say(summary)
    }
}

/// `serve`: runs a worker for `--seconds` or until the `--wait-ids` tasks are
/// finished, then prints "STATISTICS ...", stops cleanly, closes the engine and
/// prints "STOPPED descriptors-still-open=N" last.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run a worker for a while, then stop cleanly.")

    @OptionGroup var common: CommonOptions
    @Option var seconds = 1.0
    @Option(name: .customLong("wait-ids"), help: "FIRST-LAST: run until these tasks are finished.") var waitIDs: IDRange?
    @Option var concurrency = 8
    @Option(help: "The execution log.") var log: String?

    func validate() throws {
        guard concurrency >= 1 else { throw ValidationError("--concurrency must be at least 1") }
        guard seconds >= 0 else { throw ValidationError("times must not be negative") }
    }

    func run() async {
        await Worker.perform("serve", common) { logger in try await serve(logger) }
    }

    private func serve(_ logger: Logger) async throws {
        let options = self
        let engine = try await Worker.openEngine(options.common.database, configuration: Worker.configuration(concurrency: options.concurrency),
            sqlite: Worker.sqlite(), logger: logger)
        registerTortureJobs(on: engine, work: Workload(log: options.log))
        try await engine.run { engine in
            if let ids = options.waitIDs?.ids {
                try await Worker.wait(for: ids, in: engine)
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
        say("STOPPED descriptors-still-open=\(openDescriptors(on: options.common.database))")
    }

    /// How many of this process's file descriptors point to the database or its -wal/-shm.
    func openDescriptors(on path: String) -> Int {
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
}

/// `probe`: opens the file and tries a read, a listing, statistics, a creation and
/// a worker; prints one "RESULT <operation> ok|error ..." line each.
struct Probe: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Try every kind of operation on a (damaged) file.")

    @OptionGroup var common: CommonOptions
    @Option var concurrency = 8

    func run() async {
        await Worker.perform("probe", common) { logger in await probe(logger) }
    }

    private func probe(_ logger: Logger) async {
        let options = self
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
            engine = try await Worker.openEngine(options.common.database, configuration: Worker.configuration(concurrency: options.concurrency),
                sqlite: Worker.sqlite(), logger: logger)
            say("RESULT open ok")
        } catch let error as DurableError {
            say("RESULT open error \(error.code): \(error.message)")
            return
        } catch {
            say("RESULT open error \(String(reflecting: type(of: error))): \(error)")
            return
        }
        registerTortureJobs(on: engine, work: Workload())
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
