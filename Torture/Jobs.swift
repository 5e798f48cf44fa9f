import Durable
import Foundation
import Synchronization

// The jobs the torture workers run. Every body of work (a step's closure, a child's
// run, a plain task's run) appends one line to the execution log with a single
// O_APPEND write as it starts, so the suite counts executions exactly, across kills.

/// What the bodies of one worker process share: the execution log, the work time,
/// and the budget after which bodies stall until the process is killed (so that a
/// worker never runs far ahead of the moment chosen to kill it).
struct Workload: Sendable {
    var log: String?
    var delay: Duration = .zero
    var stallAfter: Int?
    var stalledLog: String?

    /// How many bodies this process started.
    static let started = Atomic<Int>(0)

    /// Logs `line`, then works for `delay` (or stalls, past the budget).
    func body(_ line: String, delay: Duration) async throws {
        if let log { try appendLine(line, to: log) }
        let started = Self.started.add(1, ordering: .relaxed).newValue
        if let stallAfter, started > stallAfter {
            if let stalledLog { try appendLine(line, to: stalledLog) }
            while true { try await Task.sleep(for: .seconds(60)) }
        }
        if delay > .zero { try await Task.sleep(for: delay) }
    }
}

/// The expected results, computed directly.
enum Expected {
    static let stepNames = ["fetch", "middle", "combine"]
    static let childrenPerParent = 3

    static func pipeline(_ n: Int) -> Int { 1211 * n + 21 }
    static func leaf(_ m: Int) -> Int { m * 7 }
    static func plain(_ n: Int) -> Int { n * 3 + 1 }
    static func step(_ name: String, of n: Int) -> Int {
        switch name {
        case "fetch": n * 1000
        case "middle": n * 1001
        default: n * 1001 + (0..<childrenPerParent).map { leaf(n * 10 + $0) }.reduce(0, +)
        }
    }
    static func share(_ input: Int) -> Int { input * 2 + 1 }

    /// Log lines: the identity of a body.
    static func stepLine(_ step: String, _ n: Int) -> String { "step \(step) \(n)" }
    static func childLine(_ m: Int) -> String { "child \(m % 10) of \(m / 10)" }
    static func plainLine(_ n: Int) -> String { "plain \(n)" }
}

/// A multi-step, multi-child job. For input `n`: step "fetch" (n·1000), children
/// "part" #0 and #1 (`leaf` n·10+0, n·10+1), step "middle" (fetch + n), child "part"
/// #2 (`leaf` n·10+2), gather, step "combine" (middle + the children's results):
/// 1211·n + 21.
struct Pipeline: Job {
    static let name = "pipeline"
    let work: Workload

    func run(_ n: Int, context: TaskContext) async throws -> Int {
        let delay = work.delay * (1 + n % 3)
        let fetched = try await context.step("fetch") {
            try await work.body(Expected.stepLine("fetch", n), delay: delay)
            return n * 1000
        }
        var parts: [DurableTask<Int>] = []
        for k in 0..<2 { parts.append(try await context.createTask(Leaf.self, n * 10 + k, name: "part")) }
        let middle = try await context.step("middle") {
            try await work.body(Expected.stepLine("middle", n), delay: delay)
            return fetched + n
        }
        parts.append(try await context.createTask(Leaf.self, n * 10 + 2, name: "part"))
        let values = try await context.gather(parts)
        return try await context.step("combine") {
            try await work.body(Expected.stepLine("combine", n), delay: delay)
            return middle + values.reduce(0, +)
        }
    }
}

/// A child of `pipeline`: for m = n·10 + k, returns m·7.
struct Leaf: Job {
    static let name = "leaf"
    let work: Workload

    func run(_ m: Int, context: TaskContext) async throws -> Int {
        try await work.body(Expected.childLine(m), delay: work.delay * (1 + m % 4))
        return Expected.leaf(m)
    }
}

/// A task without steps or children: returns n·3 + 1.
struct Plain: Job {
    static let name = "plain"
    let work: Workload

    func run(_ n: Int, context: TaskContext) async throws -> Int {
        try await work.body(Expected.plainLine(n), delay: work.delay * (1 + n % 2))
        return Expected.plain(n)
    }
}

/// The job of the many-processes scenario. Logs "S <task> <attempt> <pid> <ns>" as it
/// starts and "E ..." as it ends (CLOCK_MONOTONIC, comparable between processes),
/// works a few milliseconds, stores a step for odd inputs (more writers), and
/// returns input·2 + 1.
struct ShareWork: Job {
    static let name = "share"
    let log: String

    func run(_ input: Int, context: TaskContext) async throws -> Int {
        let tag = "\(context.taskID) \(context.attempt) \(getpid())"
        try appendLine("S \(tag) \(monotonicNanoseconds())", to: log)
        defer { try? appendLine("E \(tag) \(monotonicNanoseconds())", to: log) }
        try await Task.sleep(for: .milliseconds(input % 5))
        if input % 2 == 1 {
            let half = try await context.step("half") { input }
            return half * 2 + 1
        }
        return Expected.share(input)
    }
}

/// A task with a bulky input (to fill a disk): returns the input's length.
struct Filler: Job {
    static let name = "filler"

    func run(_ payload: String, context: TaskContext) async throws -> Int {
        payload.utf8.count
    }
}

/// Registers every torture job on `engine`.
func registerJobs(on engine: TaskEngine, work: Workload, shareLog: String? = nil) {
    engine.register(Pipeline(work: work))
    engine.register(Leaf(work: work))
    engine.register(Plain(work: work))
    engine.register(Filler())
    if let shareLog { engine.register(ShareWork(log: shareLog)) }
}
