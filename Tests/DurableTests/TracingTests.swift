import Durable
import DurableTestKit
import InMemoryTracing
import Testing
import Tracing

/// Creates a child (`double`) of its input, awaits it, then runs the step
/// "halve" on the child's result.
private struct SpawnsDoubler: Job {
    static let name = "spawns-doubler"
    func run(_ input: Int, context: TaskContext) async throws -> Int {
        let doubled = try await context.createTask(Doubler.self, input).value
        return try await context.step("halve") { doubled / 2 }
    }
}

/// The engine's spans, reported to swift-distributed-tracing's in-memory tracer
/// given in the configuration (nothing is bootstrapped).
@Suite("Traces through swift-distributed-tracing")
struct TracingTests {
    private func span(_ spans: [FinishedInMemorySpan], _ name: String) throws -> FinishedInMemorySpan {
        try #require(spans.first { $0.operationName == name }, "no span \(name) among \(spans.map(\.operationName))")
    }

    @Test("a run is the span 'run <job>' linked to its creator's context; a child's run joins its parent's trace; a step is a child span")
    func runsChildrenAndSteps() async throws {
        let tracer = InMemoryTracer()
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory, configure: { $0.tracer = tracer })
        engine.register(SpawnsDoubler())
        let request = tracer.startSpan("request", context: .topLevel)
        try await engine.run { engine in
            let task = try await ServiceContext.withValue(request.context) {
                try await engine.createTask(SpawnsDoubler.self, 21)
            }
            request.end()
            #expect(try await task.value == 21)
        }
        try engine.close()
        let spans = tracer.finishedSpans
        let creator = try span(spans, "request")
        let run = try span(spans, "run \(SpawnsDoubler.name)")
        #expect(run.kind == .consumer)
        #expect(run.traceID != creator.traceID)
        #expect(run.links.compactMap(\.context.inMemorySpanContext) == [creator.spanContext])
        #expect(run.attributes.get("durable.job") == .string(SpawnsDoubler.name))
        #expect(run.attributes.get("durable.attempt") == .int64(1))
        #expect(run.attributes.get("durable.outcome") == .string("succeeded"))
        #expect(run.attributes.get("messaging.system") == .string("durable"))

        let child = try span(spans, "run \(Doubler.name)")
        #expect(child.traceID == run.traceID)
        #expect(child.parentSpanID == run.spanID)
        #expect(child.links.isEmpty)

        let step = try span(spans, "step halve")
        #expect(step.traceID == run.traceID && step.parentSpanID == run.spanID)
        #expect(step.attributes.get("durable.step.name") == .string("halve"))
    }

    @Test("the creator's context is stored with the task (NULL without one); a failed run's span says so")
    func storedContextAndFailure() async throws {
        let tracer = InMemoryTracer()
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory, configure: { $0.tracer = tracer })
        let request = tracer.startSpan("request", context: .topLevel)
        try await engine.run { engine in
            let traced = try await ServiceContext.withValue(request.context) {
                try await engine.createTask(Fail.self, "traced")
            }
            _ = try? await traced.value
            _ = try? await engine.createTask(Fail.self, "untraced").value
            // Stopped by its timeout: the job sees a cancellation, the task fails.
            let slow = try await engine.createTask(WaitAtGate.self, "never", options: TaskOptions(timeout: .milliseconds(50)))
            _ = try? await slow.value
        }
        request.end()
        try engine.close()
        let stored = try await StoreProbe.read(
            directory.file("test.sqlite"), "SELECT coalesce(trace_context, 'none') FROM tasks ORDER BY id")
        #expect(stored.count == 3)
        #expect(stored.first?.contains(request.spanContext.spanID) == true)
        #expect(stored.first?.contains(request.spanContext.traceID) == true)
        #expect(stored.dropFirst().allSatisfy { $0 == "none" })

        let timedOut = try #require(tracer.finishedSpans.first { $0.operationName == "run \(WaitAtGate.name)" })
        #expect(timedOut.attributes.get("durable.outcome") == .string("failed"))
        #expect(timedOut.status?.code == .error)
        let runs = tracer.finishedSpans.filter { $0.operationName == "run \(Fail.name)" }
        #expect(runs.count == 2)
        #expect(runs.allSatisfy { $0.status?.code == .error && $0.errors.count == 1 })
        #expect(runs.allSatisfy { $0.attributes.get("durable.outcome") == .string("failed") })
        #expect(runs.map(\.links.count).sorted() == [0, 1])
    }
}
