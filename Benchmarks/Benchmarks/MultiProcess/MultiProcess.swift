// Worker processes on one file: N DurableTestWorker processes (64 slots each) are started
// and ready; then this process creates 100k no-op tasks in chunks of 10k and gathers
// them. The measurement runs from the first creation to the last result; memory and
// malloc counts are this (the submitting) process's.
import Benchmark
import BenchSupport
import Durable

let benchmarks: @Sendable () -> Void = {
    let tasksPerSecond = BenchmarkMetric.custom(MetricName.tasksPerSecond, polarity: .prefersLarger, useScalingFactor: false)
    let n = 100_000
    for workers in [1, 8] {
        Benchmark(
            "\(workers) worker process\(workers == 1 ? "" : "es"), \(n) tasks, FULL",
            configuration: .init(
                metrics: [.wallClock, .cpuTotal, .peakMemoryResident, .mallocCountTotal, tasksPerSecond],
                timeUnits: .milliseconds, warmupIterations: 0, maxDuration: .seconds(120), maxIterations: 3)
        ) { benchmark in
            let database = try await BenchDatabase.fresh("suite-multi.sqlite")
            let result = try await multiProcess(
                database: database, workers: workers, n: n, durability: .powerLossSafe, concurrency: 64,
                onStart: { benchmark.startMeasurement() }, onStop: { benchmark.stopMeasurement() })
            benchmark.measurement(tasksPerSecond, result.whole("tasks_per_s"))
            try await database.remove()
        }
    }
}
