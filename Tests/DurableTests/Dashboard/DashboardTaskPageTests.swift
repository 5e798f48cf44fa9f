import DurableTestKit
import Durable
import Foundation
import Hummingbird
import HummingbirdTesting
import Testing

/// Stores a step, takes a short durable sleep, then creates a child of one
/// depth less and returns how deep the chain below it goes.
private struct Nest: Job {
    static let name = "nest"
    func run(_ depth: Int, context: TaskContext) async throws -> Int {
        guard depth > 0 else { return 0 }
        _ = try await context.step("before") { depth }
        try await context.sleep(for: .milliseconds(1), name: "nap")
        return try await context.createTask(Nest.self, depth - 1).value + 1
    }
}

@Suite("The web dashboard's task page", .temporaryEngine)
struct DashboardTaskPageTests {
    @Test("a task's page: its runs as a timeline, steps with their durations and sleeps with their wake-up, children as a tree")
    func runsStepsAndTree() async throws {
        let engine = TemporaryEngine.engine
        engine.register(Nest())
        let retried = TaskOptions(retry: .exponentialJitter(maxAttempts: 3, initialDelay: .zero, jitter: 0))
        let (root, flaky) = try await engine.run { engine in
            let root = try await engine.createTask(Nest.self, 2)
            #expect(try await root.value == 2)
            let flaky = try await engine.createTask(Flaky.self, "page:1", options: retried)
            #expect(try await flaky.value == 2)
            return (root.id.rawValue, flaky.id.rawValue)
        }
        let child = try #require(try await engine.tasks(matching: TaskQuery(parentID: TaskID(root))).first).id.rawValue
        let grandchild = try #require(try await engine.tasks(matching: TaskQuery(parentID: TaskID(child))).first).id
            .rawValue
        try await withLiveDashboard(engine) { client in
            let page = try await client.execute(uri: "/tasks/\(root)", method: .get) { String(buffer: $0.body) }
            #expect(page.contains("<svg class=\"timeline\""))
            #expect(page.components(separatedBy: "class=\"run-succeeded\"").count == 2)
            // The child, and below it (nested) the grandchild.
            let tree = try #require(page.range(of: "<ul class=\"tree\">").map { String(page[$0.lowerBound...]) })
            let childAt = try #require(tree.range(of: "href=\"/tasks/\(child)\""))
            let nestedAt = try #require(tree.range(of: "<ul class=\"tree\">", range: childAt.upperBound..<tree.endIndex))
            #expect(tree.range(of: "href=\"/tasks/\(grandchild)\"", range: nestedAt.upperBound..<tree.endIndex) != nil)
            #expect(page.contains("<td>nap</td><td>sleep</td><td>succeeded</td><td>1</td>"))
            #expect(page.contains("wakes at 20"))
            #expect(page.contains("<td>before</td><td>step</td><td>succeeded</td><td>1</td>"))

            let flakyPage = try await client.execute(uri: "/tasks/\(flaky)", method: .get) { String(buffer: $0.body) }
            #expect(flakyPage.contains("class=\"run-failed\"") && flakyPage.contains("class=\"run-succeeded\""))

            let json = try await client.execute(uri: "/api/tasks/\(root)", method: .get) { String(buffer: $0.body) }
            let object = try #require(try JSONSerialization.jsonObject(with: Data(json.utf8)) as? [String: Any])
            let steps = try #require(object["steps"] as? [[String: Any]])
            #expect(steps.map { $0["name"] as? String } == ["before", "nap"])
            #expect(steps.allSatisfy { $0["attempt"] as? Int == 1 && $0["stored"] is String && $0["started"] is String })
            #expect(steps.first?["took_ms"] is Int)
            let descendants = try #require(object["descendants"] as? [String: [[String: Any]]])
            #expect(descendants["\(child)"]?.compactMap { ($0["id"] as? NSNumber)?.int64Value } == [grandchild])
        }
    }
}
