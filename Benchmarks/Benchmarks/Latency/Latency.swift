// Submit → result latency, one task at a time: each iteration creates a no-op task
// and awaits its value. The worker runs in this process, or in a DurableTestWorker
// process on the same file (this process then runs no worker and learns of the
// result through the change watcher).
import Benchmark
import BenchSupport
import Durable

final class LatencyFixture: @unchecked Sendable {
    var engine: TaskEngine?
    var worker: Task<Void, any Error>?
    var process: WorkerProcess?
    var database: BenchDatabase?
    var next = 0

    func submitAndWait() async throws {
        next += 1
        let value = try await engine!.createTask(Noop.self, next).value
        precondition(value == next, "task \(next) returned \(value)")
    }

    func tearDown() async {
        worker?.cancel()
        _ = try? await worker?.value
        process?.stop()
        engine = nil
        try? await database?.remove()
    }
}

let benchmarks: @Sendable () -> Void = {
    let configuration = Benchmark.Configuration(
        metrics: [.wallClock, .throughput, .mallocCountTotal, .peakMemoryResident],
        timeUnits: .microseconds, warmupIterations: 20, maxDuration: .seconds(5), maxIterations: 2_000)

    for sync in [Durability.powerLossSafe, .processCrashSafe] {
        let local = LatencyFixture()
        Benchmark(
            "submit → result, one process, \(sync.syncName)", configuration: configuration,
            closure: { _ in try await local.submitAndWait() },
            setup: {
                let database = try await BenchDatabase.fresh("suite-latency-local-\(sync.syncName).sqlite")
                local.database = database
                let engine = try await database.makeEngine(durability: sync, concurrency: 64)
                engine.register(Noop())
                local.engine = engine
                local.worker = Task { try await engine.run() }
            },
            teardown: { await local.tearDown() })

        let remote = LatencyFixture()
        Benchmark(
            "submit → result, two processes, \(sync.syncName)", configuration: configuration,
            closure: { _ in try await remote.submitAndWait() },
            setup: {
                let database = try await BenchDatabase.fresh("suite-latency-remote-\(sync.syncName).sqlite")
                remote.database = database
                remote.engine = try await database.makeEngine(durability: sync)
                remote.process = try WorkerProcess(database: database, durability: sync.syncName, concurrency: 64)
                try await remote.process!.waitUntilReady()
            },
            teardown: { await remote.tearDown() })
    }
}
