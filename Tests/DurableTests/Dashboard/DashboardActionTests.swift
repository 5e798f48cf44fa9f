import DurableTestKit
import Durable
import DurableDashboard
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

@Suite("The web dashboard's actions", .temporaryEngine)
struct DashboardActionTests {
    private func withDashboard(
        allowActions: Bool, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        try await withLiveDashboard(TemporaryEngine.engine, access: Dashboard.Access(allowActions: allowActions), body)
    }

    private static let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]

    @Test("read-only by default: every action is refused (403) and changes nothing; no page shows a button")
    func readOnly() async throws {
        let engine = TemporaryEngine.engine
        let waiting = try await engine.createTask(Doubler.self, 1, options: TaskOptions(delay: .seconds(3600)))
        try await withDashboard(allowActions: false) { client in
            let csrf = try await client.execute(uri: "/api/csrf", method: .get) { String(buffer: $0.body) }
            let object = try JSONSerialization.jsonObject(with: Data(csrf.utf8)) as? [String: Any]
            let token = try #require(object?["csrf"] as? String)
            #expect(object?["actions"] as? Bool == false)
            let page = try await client.execute(uri: "/tasks/\(waiting.id.rawValue)", method: .get) { String(buffer: $0.body) }
            #expect(!page.contains("<form class=\"action\""))
            let refused = try await client.execute(
                uri: "/tasks/\(waiting.id.rawValue)/cancel", method: .post, headers: Self.form,
                body: ByteBuffer(string: "csrf=\(token)"))
            #expect(refused.status == .forbidden)
            #expect(String(buffer: refused.body).contains("--allow-actions"))
            let api = try await client.execute(
                uri: "/api/tasks/\(waiting.id.rawValue)/cancel", method: .post, headers: [.init("X-CSRF-Token")!: token])
            #expect(api.status == .forbidden)
        }
        #expect(try await waiting.status() == .pending)
    }

    @Test("with actions: cancel and retry from the page's forms and the API, each only with the CSRF token; retry the failed tasks of a job")
    func actions() async throws {
        let engine = TemporaryEngine.engine
        let waiting = try await engine.createTask(Doubler.self, 1, options: TaskOptions(delay: .seconds(3600)))
        let other = try await engine.createTask(Doubler.self, 2, options: TaskOptions(delay: .seconds(3600)))
        let failed = try await engine.run { engine in
            var failed: [DurableTask<String>] = []
            for reason in ["a", "b", "c"] {
                let task = try await engine.createTask(Fail.self, reason)
                _ = try? await task.value
                failed.append(task)
            }
            return failed
        }
        try await withDashboard(allowActions: true) { client in
            let page = try await client.execute(uri: "/tasks/\(waiting.id.rawValue)", method: .get) { String(buffer: $0.body) }
            #expect(page.contains("action=\"/tasks/\(waiting.id.rawValue)/cancel\""))
            let token = try #require(
                page.components(separatedBy: "name=\"csrf\" value=\"").dropFirst().first?.split(separator: "\"").first
                    .map(String.init))
            // Without the token, or with another, nothing happens.
            for body in ["", "csrf=nope"] {
                let refused = try await client.execute(
                    uri: "/tasks/\(waiting.id.rawValue)/cancel", method: .post, headers: Self.form,
                    body: ByteBuffer(string: body))
                #expect(refused.status == .forbidden)
            }
            #expect(try await waiting.status() == .pending)
            // The page's form: cancelled, back to the task's page.
            let cancelled = try await client.execute(
                uri: "/tasks/\(waiting.id.rawValue)/cancel", method: .post, headers: Self.form,
                body: ByteBuffer(string: "csrf=\(token)"))
            #expect(cancelled.status == .seeOther || cancelled.status == .found)
            #expect(cancelled.headers[.location] == "/tasks/\(waiting.id.rawValue)")
            #expect(try await waiting.status() == .cancelled)
            // The API, with the header.
            let api = try await client.execute(
                uri: "/api/tasks/\(other.id.rawValue)/cancel", method: .post, headers: [.init("X-CSRF-Token")!: token]
            ) { String(buffer: $0.body) }
            #expect(api.contains("\"cancelled\":true"))
            #expect(try await other.status() == .cancelled)
            let retried = try await client.execute(
                uri: "/api/tasks/\(failed[0].id.rawValue)/retry", method: .post, headers: [.init("X-CSRF-Token")!: token]
            ) { String(buffer: $0.body) }
            #expect(retried.contains("\"retried\":true"))
            #expect(try await failed[0].status() == .pending)
            // The overview's button: the job's other failed tasks.
            let overview = try await client.execute(uri: "/", method: .get) { String(buffer: $0.body) }
            #expect(overview.contains("action=\"/jobs/retry-failed\""))
            #expect(overview.contains("name=\"job\" value=\"fail\""))
            let noJob = try await client.execute(
                uri: "/jobs/retry-failed", method: .post, headers: Self.form, body: ByteBuffer(string: "csrf=\(token)"))
            #expect(noJob.status == .badRequest)
            let job = try await client.execute(
                uri: "/jobs/retry-failed", method: .post, headers: Self.form,
                body: ByteBuffer(string: "csrf=\(token)&job=fail"))
            #expect(job.headers[.location] == "/tasks?job=fail")
            for task in failed { #expect(try await task.status() == .pending) }
            let unknown = try await client.execute(
                uri: "/api/tasks/999999/cancel", method: .post, headers: [.init("X-CSRF-Token")!: token])
            #expect(unknown.status == .notFound)
        }
    }
}
