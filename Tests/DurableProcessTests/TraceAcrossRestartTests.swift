import Durable
import DurableTestKit
import InMemoryTracing
import MetricsTestKit
import Testing
import Tracing

/// The sleeper job as the restarted process runs it: it returns at once.
private struct QuickSleeper: Job {
    static let name = Sleeper.name
    func run(_ input: String, context: TaskContext) async throws -> String { input }
}

/// What a task stores of its creator's trace outlives the process that ran it.
@Suite("Traces and metrics across a SIGKILL and a restart")
struct TraceAcrossRestartTests {
    @Test(
        "the run after a SIGKILL and a restart links to the trace context stored at creation; the recovery counts as abandoned",
        arguments: ProcessStore.all)
    func linkSurvivesKill(store: ProcessStore) async throws {
        let directory = TemporaryDirectory()
        let database = try store.database(in: directory, file: "traced.sqlite")
        let log = directory.file("executions.log")

        // Created under a span of the creating process's tracer.
        let creatorTracer = InMemoryTracer()
        var creating = EngineConfiguration()
        creating.tracer = creatorTracer
        let creator = try await openEngine(database, configuration: creating)
        let request = creatorTracer.startSpan("request", context: .topLevel)
        let task = try await ServiceContext.withValue(request.context) {
            try await creator.createTask(Sleeper.self, "traced", name: "traced")
        }
        request.end()
        try creator.close()

        // Claimed by a worker process, killed while it runs the task.
        let worker = try ChildProcess("worker", arguments: ["run", database, "--log", log], in: directory)
        try await poll("the sleeper runs", child: worker) { try lines(of: log) == ["traced"] }
        try await worker.sigkill()

        // Another process, another tracer: the run still links to the creator.
        let tracer = InMemoryTracer()
        let metrics = TestMetrics()
        var restarting = EngineConfiguration()
        restarting.tracer = tracer
        restarting.metricsFactory = metrics
        let engine = try await openEngine(database, configuration: restarting)
        engine.register(QuickSleeper())
        let value = try await engine.run { engine in try await engine.task(id: task.id, as: QuickSleeper.self).value }
        #expect(value == "traced")
        try engine.close()
        let run = try #require(tracer.finishedSpans.first { $0.operationName == "run \(Sleeper.name)" })
        #expect(run.links.compactMap(\.context.inMemorySpanContext) == [request.spanContext])
        #expect(run.attributes.get("durable.attempt") == .int64(2))
        #expect(run.attributes.get("durable.task.id") == .int64(task.id.rawValue))
        let abandoned = [("job", Sleeper.name), ("status", MetricNames.TaskEvent.abandoned.rawValue)]
        #expect(metrics.counterTotal(label: MetricNames.tasks, dimensions: abandoned) == 1)
    }
}
