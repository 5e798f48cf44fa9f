import Synchronization
import Tracing

/// The engine's spans, through swift-distributed-tracing: the configuration's
/// tracer, else the one the application bootstrapped. With neither (the no-op
/// tracer) the engine holds no `EngineTracing` (``make(_:)`` returns `nil`): no
/// span is started and no trace context is stored.
///
/// - A task stores the trace context of the code that created it (what the
///   tracer injects: W3C `traceparent` and `tracestate` for OpenTelemetry), as a
///   JSON object in the `trace_context` column.
/// - Its run, in whichever process and after any number of restarts, is the
///   span `run <job>` (kind consumer). A child task's run is a child span of
///   the context stored with it (its parent's run, or the step of it that
///   created the child): children join their parent's trace. Any other task's run starts a trace of its own and links
///   to the stored context.
/// - A step that runs (not one replayed from its checkpoint) is the span
///   `step <name>`, a child of the run's span.
final class EngineTracing: Sendable {
    let tracer: any Tracer
    /// The stored context read last, and what the tracer made of it.
    private let lastContext = Mutex<(json: String, context: ServiceContext?)?>(nil)

    private init(tracer: any Tracer) {
        self.tracer = tracer
    }

    static func make(_ tracer: (any Tracer)?) -> EngineTracing? {
        let tracer = tracer ?? InstrumentationSystem.tracer
        if tracer is NoOpTracer { return nil }
        return EngineTracing(tracer: tracer)
    }

    /// The current trace context as stored with a task created now: a JSON
    /// object of what the tracer injects, or `nil` when there is no context or
    /// the tracer injects nothing.
    func currentContext() -> String? {
        guard let context = ServiceContext.current else { return nil }
        var carrier: [String: String] = [:]
        tracer.inject(context, into: &carrier, using: CarrierInjector())
        guard !carrier.isEmpty else { return nil }
        return try? StoredJSON.encode(carrier)
    }

    /// Runs `body` (the job) in the span of `task`'s run, with the span's
    /// context current, so that tasks it creates store it. `stoppedBecause`
    /// tells how a run the worker stopped ends (a timeout fails it, a shutdown
    /// hands it back), which the job's own error (a cancellation) does not.
    func run(
        _ task: ClaimedTask, stoppedBecause: () -> (outcome: String, error: StoredError?)?,
        _ body: () async -> JobRunner.Ending
    ) async -> JobRunner.Ending {
        let stored = storedContext(task.traceContext)
        let joinsParent = task.parentID != nil && stored != nil
        let span = tracer.startSpan(
            "run \(task.job)", context: joinsParent ? stored ?? .topLevel : .topLevel, ofKind: .consumer)
        if let stored, !joinsParent { span.addLink(SpanLink(context: stored, attributes: [:])) }
        // One update: a span takes a lock per change.
        span.updateAttributes { attributes in
            attributes["messaging.system"] = "durable"
            attributes["messaging.operation.type"] = "process"
            attributes["messaging.destination.name"] = task.job
            attributes["messaging.message.id"] = "\(task.id.rawValue)"
            attributes["durable.task.id"] = task.id.rawValue
            attributes["durable.task.name"] = task.name
            attributes["durable.job"] = task.job
            attributes["durable.attempt"] = task.attempt
        }
        let ending = await ServiceContext.withValue(span.context) { await body() }
        let outcome: String
        switch ending {
        case .returned:
            outcome = "succeeded"
        case .codingFailed(let error):
            outcome = "failed"
            span.setStatus(SpanStatus(code: .error, message: error.message))
        case .threw(let error):
            if let stopped = stoppedBecause() {
                outcome = stopped.outcome
                if let reason = stopped.error { span.setStatus(SpanStatus(code: .error, message: reason.message)) }
            } else {
                outcome = Self.outcome(of: error)
                if outcome == "failed" {
                    span.recordError(error)
                    span.setStatus(SpanStatus(code: .error, message: "\(error)"))
                }
            }
        }
        span.attributes["durable.outcome"] = outcome
        span.end()
        return ending
    }

    /// Runs a step's `body` in the span `step <name>`.
    func step<T>(_ name: String, occurrence: Int, of taskID: TaskID, _ body: () async throws -> T) async throws -> T {
        let span = tracer.startSpan("step \(name)", context: ServiceContext.current ?? .topLevel, ofKind: .internal)
        span.updateAttributes { attributes in
            attributes["durable.task.id"] = taskID.rawValue
            attributes["durable.step.name"] = name
            attributes["durable.step.occurrence"] = occurrence
        }
        defer { span.end() }
        do {
            let value = try await ServiceContext.withValue(span.context) { try await body() }
            span.attributes["durable.outcome"] = "succeeded"
            return value
        } catch {
            let outcome = Self.outcome(of: error)
            span.attributes["durable.outcome"] = outcome
            if outcome == "failed" {
                span.recordError(error)
                span.setStatus(SpanStatus(code: .error, message: "\(error)"))
            }
            throw error
        }
    }

    /// The context stored with a task, as the tracer reads it back; `nil` when
    /// none was stored or it holds nothing this tracer knows.
    private func storedContext(_ json: String?) -> ServiceContext? {
        guard let json else { return nil }
        // Tasks created together share their creator's context: the last one
        // read is kept, so a batch's runs decode it once.
        if let last = lastContext.withLock({ $0 }), last.json == json { return last.context }
        guard let carrier = try? StoredJSON.decode([String: String].self, from: json), !carrier.isEmpty else {
            return nil
        }
        var context = ServiceContext.topLevel
        tracer.extract(carrier, into: &context, using: CarrierExtractor())
        let found = context.isEmpty ? nil : context
        lastContext.withLock { $0 = (json, found) }
        return found
    }

    private static func outcome(of error: any Error) -> String {
        switch error {
        case is Suspension: "suspended"
        case is CancelledError, is CancellationError: "cancelled"
        default: "failed"
        }
    }
}

/// Writes what a tracer injects into a dictionary.
private struct CarrierInjector: Injector {
    func inject(_ value: String, forKey key: String, into carrier: inout [String: String]) {
        carrier[key] = value
    }
}

/// Reads what a tracer extracts from a dictionary.
private struct CarrierExtractor: Extractor {
    func extract(key: String, from carrier: [String: String]) -> String? {
        carrier[key]
    }
}
