// End to end: N no-op tasks created in chunks of 10k while a worker runs, gathered,
// every result checked. One fresh file (or PostgreSQL schema: $DURABLE_BENCH_POSTGRES)
// per iteration; creating the engine and the file is outside the measurement.
import Benchmark
import BenchSupport
import Durable

let benchmarks: @Sendable () -> Void = {
    let tasksPerSecond = BenchmarkMetric.custom(MetricName.tasksPerSecond, polarity: .prefersLarger, useScalingFactor: false)
    let metrics: [BenchmarkMetric] = [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal, tasksPerSecond]

    // (N, concurrency, iterations): the 1M runs once; 64 vs 256 slots at 100k.
    let cases: [(n: Int, concurrency: Int, iterations: Int)] = [
        (10_000, 256, 5), (100_000, 256, 3), (100_000, 64, 3), (1_000_000, 256, 1),
    ]
    for (n, concurrency, iterations) in cases {
        for sync in [Durability.powerLossSafe, .processCrashSafe] {
            Benchmark(
                "e2e \(n) tasks, \(sync.syncName), concurrency \(concurrency)",
                configuration: .init(
                    metrics: metrics, timeUnits: .milliseconds, warmupIterations: iterations > 1 ? 1 : 0,
                    maxDuration: .seconds(120), maxIterations: iterations)
            ) { benchmark in
                let database = try await BenchDatabase.fresh("suite-e2e.sqlite")
                benchmark.startMeasurement()
                let result = try await endToEnd(database: database, n: n, durability: sync, concurrency: concurrency)
                benchmark.stopMeasurement()
                benchmark.measurement(tasksPerSecond, result.whole("tasks_per_s"))
                try await database.remove()
            }
        }
    }
}
