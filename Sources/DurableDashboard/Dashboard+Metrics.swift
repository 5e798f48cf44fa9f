import DurableEngine
import Hummingbird
import Prometheus

// `GET /metrics`: the watched database's state in Prometheus' text format.
extension Dashboard {
    /// What `/metrics` serves: gauges, read from the database at every scrape
    /// (so any number of dashboards on one database agree).
    enum PrometheusNames {
        // "stored": the engine's own counter `durable.tasks` is `durable_tasks`
        // in Prometheus, and an application may export both.
        /// `durable_stored_tasks{job,status}` (every status of every job, zeros too).
        static var tasks: MetricNameDescriptor { gauge("stored_tasks", help: "Tasks stored, by job and status.") }
        /// `durable_stored_tasks_abandoned{job}`.
        static var abandoned: MetricNameDescriptor {
            gauge("stored_tasks_abandoned", help: "Running tasks that nobody runs any more, by job.")
        }
        /// `durable_stored_tasks_finished_last_hour`.
        static var finishedLastHour: MetricNameDescriptor {
            gauge("stored_tasks_finished_last_hour", help: "Tasks finished in the last hour.")
        }
        /// `durable_queue_wait_seconds{quantile}`: from due to start, over the
        /// latest 10,000 tasks finished in the last hour (0.5, 0.95).
        static var queueWait: MetricNameDescriptor {
            gauge("queue_wait", unit: "seconds", help: "From due to start, over the tasks finished in the last hour.")
        }
        /// `durable_oldest_due_task_age_seconds` (0 when none is due).
        static var oldestDueAge: MetricNameDescriptor {
            gauge("oldest_due_task_age", unit: "seconds", help: "How long the longest-waiting due task has waited.")
        }
        /// `durable_workers`: workers that have not stopped.
        static var workers: MetricNameDescriptor { gauge("workers", help: "Workers that have not stopped.") }

        private static func gauge(_ name: String, unit: String = "", help: String) -> MetricNameDescriptor {
            MetricNameDescriptor(namespace: "durable", metricName: name, unitName: unit, helpText: help)
        }
    }

    /// `GET /metrics`.
    func prometheusMetrics() async throws -> Response {
        let statistics = try await engine.statistics()
        let queueWait = try await engine.queueWait()
        let workers = try await engine.workers()
        let now = engine.configuration.clock.now()
        // A registry per scrape: every value is read now, and a job or status
        // that is gone leaves no stale series behind.
        let registry = PrometheusCollectorRegistry()
        for (job, counts) in statistics.counts.sorted(by: { $0.key < $1.key }) {
            for status in TaskStatus.allCases {
                registry.makeGauge(descriptor: PrometheusNames.tasks, labels: [("job", job), ("status", status.rawValue)])
                    .set(Int64(counts[status] ?? 0))
            }
            registry.makeGauge(descriptor: PrometheusNames.abandoned, labels: [("job", job)])
                .set(Int64(statistics.abandoned[job] ?? 0))
        }
        registry.makeGauge(descriptor: PrometheusNames.finishedLastHour).set(Int64(statistics.finishedLastHour))
        if let queueWait {
            for (quantile, milliseconds) in [("0.5", queueWait.p50), ("0.95", queueWait.p95)] {
                registry.makeGauge(descriptor: PrometheusNames.queueWait, labels: [("quantile", quantile)])
                    .set(Double(milliseconds) / 1000)
            }
        }
        let oldestDueAge = statistics.oldestDueTime.map { max(0, now - $0) } ?? 0
        registry.makeGauge(descriptor: PrometheusNames.oldestDueAge).set(Double(oldestDueAge) / 1000)
        registry.makeGauge(descriptor: PrometheusNames.workers).set(Int64(workers.count))
        return Response(
            status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
    }
}
