public import DurableTestKit
import Synchronization

/// The no-op job of every throughput and latency workload: returns its input
/// (DurableTestKit's, which DurableTestWorker runs too).
public typealias Noop = DurableTestKit.Noop

/// The crash workload's job, as in the peers' scripts: sleeps 10 ms, then appends
/// its input to an execution log, and returns its input (DurableTestKit's).
public typealias Sleepy = DurableTestKit.Sleepy

extension Noop {
    /// A no-op job that counts its runs in this process (the restart workload).
    public init(counter: RunCounter) {
        self.init(onRun: { counter.record() })
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
public func monotonicNanos() -> UInt64 { monotonicNanoseconds() }

/// Seconds between two ``monotonicNanos()`` readings.
public func seconds(from start: UInt64, to end: UInt64) -> Double {
    Double(end &- start) / 1e9
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
