public import Durable
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// The jobs that DurableTestWorker runs for the crash tests and the torture suite.
// Every body of work (a step's closure, a child's run, a plain task's run) appends
// one line to the execution log with a single O_APPEND write as it starts, so that
// executions are counted exactly, across kills. The processes that create and
// await these tasks (tests, the torture suite) use the same types.

/// What the bodies of one worker process share: the execution log, the work time,
/// and the budget after which bodies stall until the process is killed (so that a
/// worker never runs far ahead of the moment chosen to kill it).
public struct Workload: Sendable {
    public var log: String?
    public var delay: Duration
    public var stallAfter: Int?
    public var stalledLog: String?

    public init(log: String? = nil, delay: Duration = .zero, stallAfter: Int? = nil, stalledLog: String? = nil) {
        self.log = log
        self.delay = delay
        self.stallAfter = stallAfter
        self.stalledLog = stalledLog
    }

    /// How many bodies this process started.
    static let started = Atomic<Int>(0)

    /// Logs `line` to `log`, then works for `delay`. A body started after the first
    /// `stallAfter` also logs `line` to `stalledLog` and stalls until the process is
    /// killed: the killer kills it with this body certainly in progress, and a test
    /// that falls behind the worker finds it stopped instead of finished.
    public func body(_ line: String, delay: Duration) async throws {
        if let log { try appendLine(line, to: log) }
        try await stallIfPastBudget(line)
        if delay > .zero { try await Task.sleep(for: delay) }
    }

    /// Counts a started body; past the budget, logs `line` to `stalledLog` and
    /// stalls until the process is killed.
    func stallIfPastBudget(_ line: String) async throws {
        let started = Self.started.add(1, ordering: .relaxed).newValue
        if let stallAfter, started > stallAfter {
            if let stalledLog { try appendLine(line, to: stalledLog) }
            while true { try await Task.sleep(for: .seconds(60)) }
        }
    }
}

/// The expected results, computed directly.
public enum Expected {
    public static let stepNames = ["fetch", "middle", "combine"]
    public static let childrenPerParent = 3

    public static func pipeline(_ n: Int) -> Int { 1211 * n + 21 }
    public static func leaf(_ m: Int) -> Int { m * 7 }
    public static func plain(_ n: Int) -> Int { n * 3 + 1 }
    public static func step(_ name: String, of n: Int) -> Int {
        switch name {
        case "fetch": n * 1000
        case "middle": n * 1001
        default: n * 1001 + (0..<childrenPerParent).map { leaf(n * 10 + $0) }.reduce(0, +)
        }
    }
    public static func share(_ input: Int) -> Int { input * 2 + 1 }

    /// Log lines: the identity of a body.
    public static func stepLine(_ step: String, _ n: Int) -> String { "step \(step) \(n)" }
    public static func childLine(_ m: Int) -> String { "child \(m % 10) of \(m / 10)" }
    public static func plainLine(_ n: Int) -> String { "plain \(n)" }
}

/// A multi-step, multi-child job. For input `n`: step "fetch" (n·1000), children
/// "part" #0 and #1 (`leaf` n·10+0, n·10+1), step "middle" (fetch + n), child "part"
/// #2 (`leaf` n·10+2), gather, step "combine" (middle + the children's results):
/// 1211·n + 21. Each step body logs "step <name> <n>" and works one to three delays.
public struct Pipeline: Job {
    public static let name = "pipeline"
    public let work: Workload

    public init(work: Workload) { self.work = work }

    public func run(_ n: Int, context: TaskContext) async throws -> Int {
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

/// A child of `pipeline`: for m = n·10 + k, logs "child <k> of <n>" and returns m·7.
public struct Leaf: Job {
    public static let name = "leaf"
    public let work: Workload

    public init(work: Workload) { self.work = work }

    public func run(_ m: Int, context: TaskContext) async throws -> Int {
        try await work.body(Expected.childLine(m), delay: work.delay * (1 + m % 4))
        return Expected.leaf(m)
    }
}

/// A task without steps or children: logs "plain <n>", returns n·3 + 1.
public struct Plain: Job {
    public static let name = "plain"
    public let work: Workload

    public init(work: Workload) { self.work = work }

    public func run(_ n: Int, context: TaskContext) async throws -> Int {
        try await work.body(Expected.plainLine(n), delay: work.delay * (1 + n % 2))
        return Expected.plain(n)
    }
}

/// Logs its input as it starts, counts as a body (stalling past the budget), stalls
/// while `stallFile` exists (logging its input to the stalled log once), works
/// `delay`, and returns twice its input.
public struct CrashWork: Job {
    public static let name = "crash-work"
    public let work: Workload
    public let stallFile: String?

    public init(work: Workload, stallFile: String? = nil) {
        self.work = work
        self.stallFile = stallFile
    }

    public func run(_ input: Int, context: TaskContext) async throws -> Int {
        if let log = work.log { try appendLine("\(input)", to: log) }
        try await work.stallIfPastBudget("\(input)")
        if let stallFile, FileManager.default.fileExists(atPath: stallFile) {
            if let stalledLog = work.stalledLog { try appendLine("\(input)", to: stalledLog) }
            while FileManager.default.fileExists(atPath: stallFile) {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
        if work.delay > .zero { try await Task.sleep(for: work.delay) }
        return input * 2
    }
}

/// Logs its input, then sleeps ten minutes: only cancellation (or a kill) ends it.
public struct Sleeper: Job {
    public static let name = "sleeper"
    public let log: String?

    public init(log: String?) { self.log = log }

    public func run(_ input: String, context: TaskContext) async throws -> String {
        if let log { try appendLine(input, to: log) }
        try await Task.sleep(for: .seconds(600))
        return input
    }
}

/// Durable sleep under crashes: step "before" (logs "step before <n>", returns n),
/// a durable sleep of `nap`, step "after" (logs "step after <n>", returns before·3),
/// which is the task's result.
public struct Napper: Job {
    public static let name = "napper"
    public let log: String?
    public let nap: Duration

    public init(log: String?, nap: Duration) {
        self.log = log
        self.nap = nap
    }

    public func run(_ n: Int, context: TaskContext) async throws -> Int {
        let before = try await context.step("before") {
            if let log { try appendLine("step before \(n)", to: log) }
            return n
        }
        try await context.sleep(for: nap)
        return try await context.step("after") {
            if let log { try appendLine("step after \(n)", to: log) }
            return before * 3
        }
    }
}

/// The job of the many-processes scenario. Logs "S <task> <attempt> <pid> <ns>" as it
/// starts and "E ..." as it ends (CLOCK_MONOTONIC, comparable between processes),
/// works a few milliseconds, stores a step for odd inputs (more writers), and
/// returns input·2 + 1.
public struct ShareWork: Job {
    public static let name = "share"
    public let log: String

    public init(log: String) { self.log = log }

    public func run(_ input: Int, context: TaskContext) async throws -> Int {
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
public struct Filler: Job {
    public static let name = "filler"

    public init() {}

    public func run(_ payload: String, context: TaskContext) async throws -> Int {
        payload.utf8.count
    }
}

/// Registers the torture suite's jobs on `engine`: `pipeline`, `leaf`, `plain`,
/// `filler`, and `share` when `shareLog` is given.
public func registerTortureJobs(on engine: TaskEngine, work: Workload, shareLog: String? = nil) {
    engine.register(Pipeline(work: work))
    engine.register(Leaf(work: work))
    engine.register(Plain(work: work))
    engine.register(Filler())
    if let shareLog { engine.register(ShareWork(log: shareLog)) }
}
