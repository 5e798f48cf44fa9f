import CoreMetrics
import Dispatch
import Synchronization

/// The engine's swift-metrics instruments (their names are listed in
/// ``MetricNames``), made through one factory: the configuration's, else the one
/// the application bootstrapped. With none bootstrapped the engine holds no
/// `EngineMetrics` at all (``make(_:)`` returns `nil`), so the hot path pays a
/// `nil` check and nothing else.
///
/// Metric objects are made once per label and dimensions and kept: a backend
/// looks a metric up by name and labels under a lock, once instead of per task.
/// Counts are added per commit (`increment(by:)`), not per task.
final class EngineMetrics: Sendable {
    private let factory: any MetricsFactory
    private let counters = Mutex<[Key: Counter]>([:])
    private let timers = Mutex<[Key: Timer]>([:])
    private let commitDuration: Timer
    private let commitBatch: Recorder
    private let running: Gauge
    private let freeSlots: Gauge

    private struct Key: Hashable {
        var label: String
        var job: String
        var status: String?
    }

    private init(factory: any MetricsFactory) {
        self.factory = factory
        commitDuration = Timer(label: MetricNames.commitDuration, dimensions: [], factory: factory)
        commitBatch = Recorder(label: MetricNames.commitBatchSize, dimensions: [], aggregate: true, factory: factory)
        running = Gauge(label: MetricNames.runningTasks, dimensions: [], factory: factory)
        freeSlots = Gauge(label: MetricNames.freeSlots, dimensions: [], factory: factory)
    }

    /// The metrics of an engine: `nil` when `factory` (or, without one, the
    /// bootstrapped factory) is swift-metrics' no-op one.
    static func make(_ factory: (any MetricsFactory)?) -> EngineMetrics? {
        let factory = factory ?? MetricsSystem.factory
        if factory is NOOPMetricsHandler { return nil }
        return EngineMetrics(factory: factory)
    }

    // MARK: Events

    /// Tasks stored by this process (`created`), by job.
    func created(jobs: some Sequence<String>) {
        count(.created, jobs: jobs)
    }

    /// Tasks this process claimed, by job, and how long each waited from due to
    /// running.
    func claimed(_ tasks: [ClaimedTask]) {
        guard !tasks.isEmpty else { return }
        count(.claimed, jobs: tasks.map(\.job))
        for task in tasks {
            timer(MetricNames.queueWait, job: task.job, status: nil)
                .recordMilliseconds(max(0, task.startedAt - task.runAt))
        }
    }

    /// Runs whose ends were stored: one count per job and status, and how long
    /// each ran (to when the job ended).
    func stored(_ completions: some Sequence<TaskCompletion>) {
        var counts: [Key: Int64] = [:]
        for completion in completions {
            let status = Self.status(of: completion.ending)
            counts[Key(label: MetricNames.tasks, job: completion.job, status: status.rawValue), default: 0] += 1
            if let ended = completion.endedAt {
                timer(MetricNames.runDuration, job: completion.job, status: status.rawValue)
                    .recordMilliseconds(max(0, ended - completion.startedAt))
            }
        }
        for (key, count) in counts { counter(key).increment(by: count) }
    }

    /// Tasks of dead workers this process recovered, by job.
    func abandoned(jobs: [String]) {
        count(.abandoned, jobs: jobs)
    }

    /// A worker commit: how long it took and how many completions it carried.
    func committed(completions: Int, took elapsed: Duration) {
        commitDuration.recordMicroseconds(elapsed.wholeMicroseconds)
        // A commit that only claimed is no group commit: it would skew the sizes.
        if completions > 0 { commitBatch.record(completions) }
    }

    /// The worker's running tasks and free slots.
    func slots(running count: Int, free: Int) {
        running.record(count)
        freeSlots.record(free)
    }

    /// A step that ran (not one replayed from its checkpoint).
    func step(job: String, succeeded: Bool, took elapsed: Duration) {
        timer(MetricNames.stepDuration, job: job, status: succeeded ? "succeeded" : "failed")
            .recordMicroseconds(elapsed.wholeMicroseconds)
    }

    // MARK: Instruments

    private func count(_ status: MetricNames.TaskEvent, jobs: some Sequence<String>) {
        var counts: [String: Int64] = [:]
        for job in jobs { counts[job, default: 0] += 1 }
        for (job, count) in counts {
            counter(Key(label: MetricNames.tasks, job: job, status: status.rawValue)).increment(by: count)
        }
    }

    private func counter(_ key: Key) -> Counter {
        counters.withLock { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: key.label, dimensions: Self.dimensions(of: key), factory: factory)
            counters[key] = counter
            return counter
        }
    }

    private func timer(_ label: String, job: String, status: String?) -> Timer {
        let key = Key(label: label, job: job, status: status)
        return timers.withLock { timers in
            if let timer = timers[key] { return timer }
            let timer = Timer(label: label, dimensions: Self.dimensions(of: key), factory: factory)
            timers[key] = timer
            return timer
        }
    }

    private static func dimensions(of key: Key) -> [(String, String)] {
        [("job", key.job)] + (key.status.map { [("status", $0)] } ?? [])
    }

    private static func status(of ending: TaskCompletion.Ending) -> MetricNames.TaskEvent {
        switch ending {
        case .succeeded: .succeeded
        case .failed: .failed
        case .cancelled: .cancelled
        case .retry: .retried
        case .released: .released
        case .suspended: .suspended
        }
    }
}
