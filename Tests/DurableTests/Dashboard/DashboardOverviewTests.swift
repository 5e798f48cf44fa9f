import DurableTestKit
import Durable
import DurableDashboard
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("The web dashboard's overview", .temporaryEngine)
struct DashboardOverviewTests {
    @Test("the overview charts the tasks finished per minute, and shows the queue wait, the running worker and the last hour's failures grouped by error")
    func overview() async throws {
        let engine = TemporaryEngine.engine
        try await engine.run { engine in
            let tasks = try await engine.createTasks(Doubler.self, inputs: [1, 2, 3])
            for task in tasks { _ = try await task.value }
            for reason in ["<disk> full", "<disk> full", "quota"] {
                _ = try? await engine.createTask(Fail.self, reason).value
            }
            try await withLiveDashboard(engine) { client in
                let page = try await client.execute(uri: "/", method: .get) { String(buffer: $0.body) }
                #expect(page.contains("<svg class=\"throughput\""))
                #expect(page.contains("tasks finished per minute, 6 in all"))
                #expect(page.contains("Queue wait (due → running)"))
                #expect(page.contains("p50 "))
                // This engine runs a worker: its host and pid, and one row per error.
                #expect(page.contains("<td>\(ProcessInfo.processInfo.processIdentifier)</td>"))
                #expect(page.contains("<td>2</td><td>DurableTestKit.TestFailure</td><td>test failure: &lt;disk&gt; full</td>"))
                #expect(page.contains("<td>1</td><td>DurableTestKit.TestFailure</td><td>test failure: quota</td>"))
                let stats = try await client.execute(uri: "/api/stats", method: .get) { String(buffer: $0.body) }
                let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.utf8)) as? [String: Any])
                let perMinute = try #require(object["finished_per_minute"] as? [String: Any])
                #expect((perMinute["counts"] as? [Int])?.reduce(0, +) == 6)
                #expect((perMinute["counts"] as? [Int])?.count == 60)
                #expect((object["failures_last_hour"] as? [[String: Any]])?.first?["count"] as? Int == 2)
                let workers = try await client.execute(uri: "/api/workers", method: .get) { String(buffer: $0.body) }
                #expect(workers.contains("\"pid\":\(ProcessInfo.processInfo.processIdentifier)"))
            }
        }
    }
}
