import DurableTestKit
import Durable
import DurableDashboard
import Foundation
import Hummingbird
import HummingbirdTesting
import Logging
import Testing

/// The dashboard served for real (a live server on a free port of 127.0.0.1)
/// over the store of this test run.
@Suite("The web dashboard", .temporaryEngine)
struct DashboardTests {
    /// Runs `body` with a client of a live dashboard over the test's engine.
    private func withDashboard(
        token: String? = nil, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let dashboard = Dashboard(engine: TemporaryEngine.engine, access: Dashboard.Access(token: token))
        let application = dashboard.application(host: "127.0.0.1", port: 0, logger: Logger(label: "dashboard-test"))
        try await application.test(.live, body)
    }

    private func json(_ response: TestResponse) throws -> [String: Any] {
        let value = try JSONSerialization.jsonObject(with: Data(String(buffer: response.body).utf8))
        return try #require(value as? [String: Any])
    }

    @Test("the overview, the task list and a task's page show what is stored; names, inputs and errors are escaped")
    func pagesShowStoredState() async throws {
        let engine = TemporaryEngine.engine
        let (succeeded, failed, hostile) = try await engine.run { engine in
            let succeeded = try await engine.createTask(Doubler.self, 21, name: "doubling")
            _ = try await succeeded.value
            let failed = try await engine.createTask(Fail.self, "<b>bold</b> reason")
            _ = try? await failed.value
            return (succeeded, failed, try await engine.createTask(Echo.self, "<img src=x onerror=alert(2)>", name: "<script>alert(1)</script>", options: TaskOptions(delay: .seconds(3600))))
        }
        try await withDashboard { client in
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType]?.hasPrefix("text/html") == true)
                let page = String(buffer: response.body)
                #expect(page.contains("<a href=\"/tasks?job=double\">double</a>"))
                #expect(page.contains("<a href=\"/tasks?status=failed\">1</a>"))
            }
            try await client.execute(uri: "/tasks", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(response.status == .ok)
                #expect(page.contains("/tasks/\(succeeded.id.rawValue)"))
                #expect(page.contains("/tasks/\(failed.id.rawValue)"))
                #expect(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"))
                #expect(!page.contains("<script>alert(1)</script>"))
            }
            try await client.execute(uri: "/tasks/\(hostile.id.rawValue)", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(response.status == .ok)
                #expect(page.contains("&lt;img src=x onerror=alert(2)&gt;"))
                #expect(!page.contains("<img src=x"))
                #expect(!page.contains("<script>alert(1)</script>"))
            }
            try await client.execute(uri: "/tasks/\(failed.id.rawValue)", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(page.contains("&lt;b&gt;bold&lt;/b&gt; reason"))
                #expect(page.contains("<h2>Runs</h2>"))
                #expect(page.contains("failed"))
            }
            try await client.execute(uri: "/tasks/\(succeeded.id.rawValue)", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(page.contains("<h2>Result</h2><pre>42</pre>"))
            }
        }
    }

    @Test("the JSON API: stats, a filtered list paged by id, a task; bad filters are 400s naming the parameter, an unknown task a 404")
    func jsonAPI() async throws {
        let engine = TemporaryEngine.engine
        let ids = try await engine.run { engine in
            let tasks = try await engine.createTasks(Doubler.self, inputs: Array(1...5))
            for task in tasks { _ = try await task.value }
            return tasks.map(\.id.rawValue)
        }
        try await withDashboard { client in
            try await client.execute(uri: "/api/stats", method: .get) { response in
                #expect(response.status == .ok)
                let stats = try json(response)
                #expect((stats["by_status"] as? [String: Int])?["succeeded"] == 5)
                #expect((stats["by_job"] as? [String: [String: Int]])?["double"]?["succeeded"] == 5)
            }
            // Newest first, two per page: the next page starts below the last id shown.
            var seen: [Int64] = []
            var uri = "/api/tasks?job=double&status=succeeded&limit=2"
            while true {
                let page = try await client.execute(uri: uri, method: .get) { response in
                    #expect(response.status == .ok)
                    return try json(response)
                }
                let tasks = try #require(page["tasks"] as? [[String: Any]])
                seen += tasks.compactMap { ($0["id"] as? NSNumber)?.int64Value }
                guard let next = (page["next_before"] as? NSNumber)?.int64Value else { break }
                uri = "/api/tasks?job=double&status=succeeded&limit=2&before=\(next)"
            }
            #expect(seen == ids.reversed())
            try await client.execute(uri: "/api/tasks/\(ids[0])", method: .get) { response in
                let task = try json(response)
                #expect((task["result"] as? NSNumber)?.intValue == 2)
                #expect((task["attempts"] as? [[String: Any]])?.first?["outcome"] as? String == "succeeded")
            }
            for (query, parameter) in [
                ("status=done", "status 'done'"), ("limit=0", "limit '0'"), ("before=x", "before 'x'"),
                ("since=yesterday", "since 'yesterday'"), ("parent=-3", "parent '-3'"),
            ] {
                try await client.execute(uri: "/api/tasks?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest)
                    let message = try json(response)["error"] as? String
                    #expect(message?.hasPrefix(parameter) == true, "\(query)")
                }
                try await client.execute(uri: "/tasks?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest)
                    #expect(String(buffer: response.body).contains(HTMLText.escape(parameter)))
                }
            }
            try await client.execute(uri: "/api/tasks/999999", method: .get) { response in
                #expect(response.status == .notFound)
                let message = try json(response)["error"] as? String
                #expect(message?.contains("999999") == true)
            }
            try await client.execute(uri: "/tasks/999999", method: .get) { response in
                #expect(response.status == .notFound)
            }
            try await client.execute(uri: "/tasks/abc", method: .get) { response in
                #expect(response.status == .badRequest)
            }
        }
    }

    @Test("with a token, requests without it are refused (403); the bearer header and the form's cookie let them in")
    func token() async throws {
        try await withDashboard(token: "s3cret") { client in
            try await client.execute(uri: "/api/stats", method: .get) { response in
                #expect(response.status == .forbidden)
            }
            try await client.execute(uri: "/", method: .get) { response in
                #expect(response.status == .forbidden)
                #expect(String(buffer: response.body).contains("name=\"token\""))
            }
            try await client.execute(uri: "/api/stats", method: .get, headers: [.authorization: "Bearer wrong"]) {
                #expect($0.status == .forbidden)
            }
            try await client.execute(uri: "/api/stats", method: .get, headers: [.authorization: "Bearer s3cret"]) {
                #expect($0.status == .ok)
            }
            let wrong = try await client.execute(
                uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "token=nope"))
            #expect(wrong.status == .forbidden)
            let login = try await client.execute(
                uri: "/login", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "token=s3cret"))
            #expect(login.status == .found)
            let cookie = try #require(login.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            #expect(cookie.hasPrefix("durable_token="))
            try await client.execute(uri: "/", method: .get, headers: [.cookie: cookie]) { response in
                #expect(response.status == .ok)
            }
        }
    }
}

/// The dashboard's escaping, as the tests expect to find it in pages.
private enum HTMLText {
    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
            .replacingOccurrences(of: "'", with: "&#39;")
    }
}

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
            let dashboard = Dashboard(engine: engine)
            let application = dashboard.application(host: "127.0.0.1", port: 0, logger: Logger(label: "dashboard-test"))
            try await application.test(.live) { client in
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

@Suite("The web dashboard's actions", .temporaryEngine)
struct DashboardActionTests {
    private func withDashboard(
        allowActions: Bool, _ body: @Sendable (any TestClientProtocol) async throws -> Void
    ) async throws {
        let dashboard = Dashboard(engine: TemporaryEngine.engine, access: Dashboard.Access(allowActions: allowActions))
        try await dashboard.application(host: "127.0.0.1", port: 0, logger: Logger(label: "dashboard-test")).test(.live, body)
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
            #expect(overview.contains("action=\"/jobs/fail/retry-failed\""))
            let job = try await client.execute(
                uri: "/jobs/fail/retry-failed", method: .post, headers: Self.form, body: ByteBuffer(string: "csrf=\(token)"))
            #expect(job.headers[.location] == "/tasks?job=fail")
            for task in failed { #expect(try await task.status() == .pending) }
            let unknown = try await client.execute(
                uri: "/api/tasks/999999/cancel", method: .post, headers: [.init("X-CSRF-Token")!: token])
            #expect(unknown.status == .notFound)
        }
    }
}
