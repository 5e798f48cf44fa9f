public import Durable
import Dispatch

// The benchmarks' jobs, run by the benchmarks in process and by DurableTestWorker.

/// The no-op job of every throughput and latency workload: returns its input.
public struct Noop: Job {
    public static let name = "noop"
    /// Called at each run in this process, when given (to count runs).
    let onRun: (@Sendable () -> Void)?

    public init(onRun: (@Sendable () -> Void)? = nil) {
        self.onRun = onRun
    }

    public func run(_ input: Int, context: TaskContext) async throws -> Int {
        onRun?()
        return input
    }
}

/// The crash workload's job, as in the peers' scripts: sleeps 10 ms, then appends
/// its input to an execution log with one O_APPEND write, and returns its input.
public struct Sleepy: Job {
    public static let name = "sleepy"
    let log: String?
    let sleep: Duration

    public init(log: String?, sleep: Duration = .milliseconds(10)) {
        self.log = log
        self.sleep = sleep
    }

    public func run(_ input: Int, context: TaskContext) async throws -> Int {
        try await Task.sleep(for: sleep)
        if let log { try appendLine("\(input)", to: log) }
        return input
    }
}

/// Logs `start INPUT NANOSECONDS` when its body begins and `end INPUT
/// NANOSECONDS` when it ends (the system's monotonic clock, shared by every
/// process on the host), sleeping `sleep` between: a run's interval, inside
/// the time its task was running in the store, for checks of concurrency limits.
public struct Spanned: Job {
    public static let name = "spanned"
    let log: String?
    let sleep: Duration

    public init(log: String?, sleep: Duration = .milliseconds(20)) {
        self.log = log
        self.sleep = sleep
    }

    public func run(_ input: Int, context: TaskContext) async throws -> Int {
        if let log { try appendLine("start \(input) \(DispatchTime.now().uptimeNanoseconds)", to: log) }
        // A body cut short (its worker stops) ends too.
        var cutShort: (any Error)?
        do {
            try await Task.sleep(for: sleep)
        } catch {
            cutShort = error
        }
        if let log { try appendLine("end \(input) \(DispatchTime.now().uptimeNanoseconds)", to: log) }
        if let cutShort { throw cutShort }
        return input
    }
}
