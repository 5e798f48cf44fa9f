import DurableTestKit
import Durable
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

@Suite("The web dashboard's /metrics", .temporaryEngine)
struct DashboardMetricsTests {
    /// The samples of a Prometheus text exposition: `name{labels}` to value.
    private func samples(_ text: String) -> [String: Double] {
        var samples: [String: Double] = [:]
        for line in text.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else {
                continue
            }
            samples[String(line[..<space])] = value
        }
        return samples
    }

    @Test("/metrics: tasks by job and status, finished, queue wait quantiles, the oldest due task's age, workers, as Prometheus text")
    func prometheusText() async throws {
        let engine = TemporaryEngine.engine
        try await engine.run { engine in
            for task in try await engine.createTasks(Doubler.self, inputs: [1, 2]) { _ = try await task.value }
            _ = try? await engine.createTask(Fail.self, "no").value
        }
        // Due a minute ago, and no worker runs: it waits.
        _ = try await engine.createTask(Echo.self, "waits", options: TaskOptions(runAt: Date(timeIntervalSinceNow: -60)))
        try await withLiveDashboard(engine) { client in
            try await client.execute(uri: "/metrics", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/plain; version=0.0.4") == true)
                let text = String(buffer: response.body)
                #expect(text.contains("# TYPE durable_stored_tasks gauge"))
                let values = samples(text)
                #expect(values[#"durable_stored_tasks{job="double",status="succeeded"}"#] == 2)
                #expect(values[#"durable_stored_tasks{job="double",status="pending"}"#] == 0)
                #expect(values[#"durable_stored_tasks{job="fail",status="failed"}"#] == 1)
                #expect(values[#"durable_stored_tasks{job="echo",status="pending"}"#] == 1)
                #expect(values[#"durable_stored_tasks_abandoned{job="double"}"#] == 0)
                #expect(values["durable_stored_tasks_finished_last_hour"] == 3)
                #expect(values[#"durable_queue_wait_seconds{quantile="0.5"}"#] != nil)
                #expect(values[#"durable_queue_wait_seconds{quantile="0.95"}"#] != nil)
                #expect((values["durable_oldest_due_task_age_seconds"] ?? 0) >= 60)
                #expect(values["durable_workers"] == 0)
            }
        }
    }
}
