public import Durable

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
