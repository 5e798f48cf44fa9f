import Durable
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The no-op job of every throughput and latency workload: returns its input.
public struct Noop: Job {
    public static let name = "noop"
    /// Counts runs in this process, when given (the restart workload).
    let counter: RunCounter?

    public init(counter: RunCounter? = nil) {
        self.counter = counter
    }

    public func run(_ input: Int, context: TaskContext) async throws -> Int {
        counter?.record()
        return input
    }
}

/// The crash workload's job, as in the peers' scripts: sleeps 10 ms, then appends
/// its input to an execution log with one O_APPEND write, and returns its input.
public struct Sleepy: Job {
    public static let name = "sleepy"
    let log: String
    let sleep: Duration

    public init(log: String, sleep: Duration = .milliseconds(10)) {
        self.log = log
        self.sleep = sleep
    }

    public func run(_ input: Int, context: TaskContext) async throws -> Int {
        try await Task.sleep(for: sleep)
        try appendLine("\(input)", to: log)
        return input
    }
}

/// Job runs in this process and the monotonic time of the first one.
public final class RunCounter: Sendable {
    private let runs = Atomic<Int>(0)
    private let firstNanos = Atomic<UInt64>(0)

    public init() {}

    func record() {
        if firstNanos.load(ordering: .relaxed) == 0 {
            _ = firstNanos.compareExchange(expected: 0, desired: monotonicNanos(), ordering: .relaxed)
        }
        runs.add(1, ordering: .relaxed)
    }

    /// Runs so far.
    public var count: Int { runs.load(ordering: .relaxed) }
    /// When the first run started (``monotonicNanos()``), or `nil`.
    public var firstRun: UInt64? {
        let value = firstNanos.load(ordering: .relaxed)
        return value == 0 ? nil : value
    }
}

/// CLOCK_MONOTONIC in nanoseconds: comparable across threads of one process.
public func monotonicNanos() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}

/// Seconds between two ``monotonicNanos()`` readings.
public func seconds(from start: UInt64, to end: UInt64) -> Double {
    Double(end &- start) / 1e9
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Appends `line` and a newline to `path` with one O_APPEND write, so that
/// concurrent writers never interleave and a SIGKILL leaves whole lines only.
func appendLine(_ line: String, to path: String) throws {
    let bytes = Array((line + "\n").utf8)
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    guard fd >= 0 else { throw BenchError("cannot open \(path) for appending: errno \(errno)") }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else { throw BenchError("short write to \(path)") }
}
