// Restart: a file holding 1M pending no-op tasks (built once by `DurableTestWorker seed`
// and kept in $DURABLE_BENCH_DIR) is copied (on PostgreSQL: seeded anew), then opened by a new engine whose
// worker runs until the first task ran, or until all 1M are done. The clock starts
// before the engine opens the file; peak RSS shows whether memory follows the
// concurrency or the pending count.
import Benchmark
import BenchSupport
import Durable

let pending = 1_000_000

let benchmarks: @Sendable () -> Void = {
    let firstTask = BenchmarkMetric.custom(MetricName.firstTaskMicroseconds)
    let tasksPerSecond = BenchmarkMetric.custom(MetricName.tasksPerSecond, polarity: .prefersLarger, useScalingFactor: false)
    let memory: [BenchmarkMetric] = [.peakMemoryResident, .peakMemoryResidentDelta, .mallocCountTotal]

    func run(_ benchmark: Benchmark, until: Int?) async throws {
        let database = try await BenchDatabase.fresh("suite-restart.sqlite")
        switch database {
        case .sqlite(let path): try copyDatabase(from: WorkerProcess.cachedSeed(n: pending), to: path)
        case .postgres: try WorkerProcess.seed(database, n: pending)
        }
        benchmark.startMeasurement()
        let result = try await restart(
            database: database, pending: pending, runUntil: until, durability: .powerLossSafe, concurrency: 256)
        benchmark.stopMeasurement()
        benchmark.measurement(firstTask, result.whole("first_task_ms", scale: 1000))
        if until == nil { benchmark.measurement(tasksPerSecond, result.whole("tasks_per_s")) }
        try await database.remove()
    }

    Benchmark(
        "restart with 1M pending: until the first task ran, FULL",
        configuration: .init(
            metrics: [.wallClock, firstTask] + memory, timeUnits: .milliseconds, warmupIterations: 0,
            maxDuration: .seconds(60), maxIterations: 5)
    ) { benchmark in
        try await run(benchmark, until: 1)
    }

    Benchmark(
        "restart with 1M pending: until all are done, FULL",
        configuration: .init(
            metrics: [.wallClock, firstTask, tasksPerSecond] + memory, timeUnits: .seconds, warmupIterations: 0,
            maxDuration: .seconds(300), maxIterations: 1)
    ) { benchmark in
        try await run(benchmark, until: nil)
    }
}
