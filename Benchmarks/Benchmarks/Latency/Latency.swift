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
    var path = ""
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
        removeDatabase(at: path)
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
                local.path = try freshPath("suite-latency-local-\(sync.syncName).sqlite")
                let engine = try makeEngine(path: local.path, durability: sync, concurrency: 64)
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
                remote.path = try freshPath("suite-latency-remote-\(sync.syncName).sqlite")
                remote.engine = try makeEngine(path: remote.path, durability: sync)
                remote.process = try WorkerProcess(path: remote.path, durability: sync.syncName, concurrency: 64)
                try await remote.process!.waitUntilReady()
            },
            teardown: { await remote.tearDown() })
    }
}
