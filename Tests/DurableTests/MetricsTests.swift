import CoreMetrics
import Durable
@testable import DurableEngine
import DurableTestKit
import MetricsTestKit
import Testing

/// The engine's metrics (``MetricNames``), reported to swift-metrics' test
/// factory given in the configuration (nothing is bootstrapped: tests run in
/// parallel, each with its own factory).
@Suite("Metrics through swift-metrics")
struct MetricsTests {
    private func total(_ metrics: TestMetrics, job: String, status: MetricNames.TaskEvent) -> Int64 {
        metrics.counterTotal(label: MetricNames.tasks, dimensions: [("job", job), ("status", status.rawValue)])
    }

    @Test("tasks counted by job and status; runs, queue waits and steps timed; commits sized; slots gauged")
    func namesAndDimensions() async throws {
        let metrics = TestMetrics()
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory, configure: { $0.metricsFactory = metrics })
        let retryOnce = TaskOptions(retry: .exponentialJitter(maxAttempts: 3, initialDelay: .zero, jitter: 0))
        try await engine.run { engine in
            for task in try await engine.createTasks(Doubler.self, inputs: [1, 2, 3]) { _ = try await task.value }
            _ = try? await engine.createTask(Fail.self, "no").value
            #expect(try await engine.createTask(Flaky.self, "f:1", options: retryOnce).value == 2)
            #expect(try await engine.createTask(ThreeSteps.self, "s").value == "ABC")
        }
        #expect(total(metrics, job: Doubler.name, status: .created) == 3)
        #expect(total(metrics, job: Doubler.name, status: .claimed) == 3)
        #expect(total(metrics, job: Doubler.name, status: .succeeded) == 3)
        #expect(total(metrics, job: Fail.name, status: .failed) == 1)
        #expect(total(metrics, job: Flaky.name, status: .claimed) == 2)
        #expect(total(metrics, job: Flaky.name, status: .retried) == 1)
        #expect(total(metrics, job: Flaky.name, status: .succeeded) == 1)
        #expect(total(metrics, job: ThreeSteps.name, status: .retried) == 1)
        #expect(metrics.counterTotal(label: MetricNames.tasks) == 3 * 3 + 3 + 5 + 5)

        let runs = try metrics.expectTimer(MetricNames.runDuration, [("job", Doubler.name), ("status", "succeeded")])
        #expect(runs.values.count == 3 && runs.values.allSatisfy { $0 >= 0 })
        let failedRuns = try metrics.expectTimer(MetricNames.runDuration, [("job", Fail.name), ("status", "failed")])
        #expect(failedRuns.values.count == 1)
        #expect(try metrics.expectTimer(MetricNames.queueWait, [("job", Doubler.name)]).values.count == 3)
        #expect(try metrics.expectTimer(MetricNames.queueWait, [("job", Flaky.name)]).values.count == 2)

        // Steps a, b, c ran on the first attempt (b failed), then b and c ran again;
        // a was replayed from its checkpoint, not run.
        let steps = [("job", ThreeSteps.name)]
        #expect(try metrics.expectTimer(MetricNames.stepDuration, steps + [("status", "succeeded")]).values.count == 3)
        #expect(try metrics.expectTimer(MetricNames.stepDuration, steps + [("status", "failed")]).values.count == 1)

        // Every stored completion went through exactly one commit.
        let batches = try metrics.expectRecorder(MetricNames.commitBatchSize)
        #expect(batches.values.reduce(0, +) == Double(3 + 1 + 2 + 2))
        #expect(batches.values.allSatisfy { $0 > 0 })
        #expect(try metrics.expectTimer(MetricNames.commitDuration).values.count >= batches.values.count)
        let running = try #require(try metrics.expectGauge(MetricNames.runningTasks).lastValue)
        let free = try #require(try metrics.expectGauge(MetricNames.freeSlots).lastValue)
        #expect(running + free == Double(engine.configuration.maxConcurrentTasks))
        try engine.close()
    }

    @Test("with no factory given and none bootstrapped, the engine holds no metrics and no tracer")
    func nothingBootstrapped() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        #expect(engine.metrics == nil)
        #expect(engine.tracing == nil)
        let doubled = try await engine.run { engine in try await engine.createTask(Doubler.self, 4).value }
        #expect(doubled == 8)
        try engine.close()
    }
}
