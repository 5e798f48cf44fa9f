// Enqueue only (no worker runs): one createTask commit per iteration, or one
// createTasks transaction of 10k tasks per iteration. The file grows across
// iterations, as a real queue's would.
import Benchmark
import BenchSupport
import Durable

final class EnqueueFixture: @unchecked Sendable {
    var engine: TaskEngine?
    var database: BenchDatabase?
    var next = 0

    /// A fresh engine (no worker) on a fresh database named after `name`.
    func open(_ name: String, _ sync: Durability) async throws {
        let database = try await BenchDatabase.fresh("suite-enqueue-\(name)-\(sync.syncName).sqlite")
        self.database = database
        engine = try await database.makeEngine(durability: sync)
    }

    func close() async {
        engine = nil
        try? await database?.remove()
    }
}

let benchmarks: @Sendable () -> Void = {
    let tasksPerSecond = BenchmarkMetric.custom(MetricName.tasksPerSecond, polarity: .prefersLarger, useScalingFactor: false)

    for sync in [Durability.powerLossSafe, .processCrashSafe] {
        let single = EnqueueFixture()
        Benchmark(
            "enqueue single, \(sync.syncName)",
            configuration: .init(
                metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident], timeUnits: .microseconds,
                warmupIterations: 10, maxDuration: .seconds(5), maxIterations: 20_000),
            closure: { _ in
                single.next += 1
                try await single.engine!.createTask(Noop.self, single.next)
            },
            setup: { try await single.open("single", sync) },
            teardown: { await single.close() })

        let batched = EnqueueFixture()
        let batch = 10_000
        Benchmark(
            "enqueue batch of \(batch), \(sync.syncName)",
            configuration: .init(
                metrics: [.wallClock, .mallocCountTotal, .peakMemoryResident, tasksPerSecond], timeUnits: .milliseconds,
                warmupIterations: 1, maxDuration: .seconds(10), maxIterations: 20),
            closure: { benchmark in
                let inputs = Array(batched.next..<(batched.next + batch))
                batched.next += batch
                let start = monotonicNanos()
                benchmark.startMeasurement()
                try await batched.engine!.createTasks(Noop.self, inputs: inputs)
                benchmark.stopMeasurement()
                benchmark.measurement(tasksPerSecond, Int(Double(batch) / seconds(from: start, to: monotonicNanos())))
            },
            setup: { try await batched.open("batch", sync) },
            teardown: { await batched.close() })
    }
}
