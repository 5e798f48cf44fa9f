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
        try await withLiveDashboard(TemporaryEngine.engine, access: Dashboard.Access(token: token), body)
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

    @Test("a quote followed by a combining mark is escaped too: it cannot end an attribute of the filter form")
    func combiningMarkAfterQuote() async throws {
        let mark = "\u{301}"
        let attack = "\"" + mark + " autofocus onfocus=alert(1) x=\"" + mark
        let escaped = "&quot;" + mark + " autofocus onfocus=alert(1) x=&quot;" + mark
        let raw = "\"" + mark + " autofocus"
        let query = try #require(attack.addingPercentEncoding(withAllowedCharacters: .alphanumerics))
        try await withDashboard { client in
            for parameter in ["search", "job", "name"] {
                try await client.execute(uri: "/tasks?\(parameter)=\(query)", method: .get) { response in
                    let page = String(buffer: response.body)
                    let showsEscaped = page.contains(escaped)
                    let showsRaw = page.contains(raw)
                    #expect(response.status == .ok)
                    #expect(showsEscaped, "\(parameter)")
                    #expect(!showsRaw, "\(parameter)")
                }
            }
        }
    }

    @Test("filters by group, key and creation window; a search for an id goes to the task, for anything else to its key")
    func groupKeyWindowAndSearch() async throws {
        let engine = TemporaryEngine.engine
        let (grouped, groupID, keyed, loose) = try await engine.run { engine in
            let (tasks, groupID) = try await engine.withTaskGroup(name: "pair") { group in
                let tasks = [try await group.createTask(Doubler.self, 1), try await group.createTask(Doubler.self, 2)]
                for task in tasks { _ = try await task.value }
                return (tasks.map(\.id.rawValue), group.id.rawValue)
            }
            let keyed = try await engine.createTask(Doubler.self, 3, key: "order-7/confirm")
            let loose = try await engine.createTask(Doubler.self, 4)
            _ = try await keyed.value
            _ = try await loose.value
            return (tasks, groupID, keyed.id.rawValue, loose.id.rawValue)
        }
        @Sendable func ids(_ client: any TestClientProtocol, _ query: String) async throws -> [Int64] {
            try await client.execute(uri: "/api/tasks?\(query)", method: .get) { response in
                #expect(response.status == .ok, "\(query)")
                let tasks = try #require(try json(response)["tasks"] as? [[String: Any]])
                return tasks.compactMap { ($0["id"] as? NSNumber)?.int64Value }
            }
        }
        try await withDashboard { client in
            #expect(try await ids(client, "group=\(groupID)") == grouped.reversed())
            #expect(try await ids(client, "key=order-7%2Fconfirm") == [keyed])
            #expect(try await ids(client, "search=order-7%2Fconfirm") == [keyed])
            #expect(try await ids(client, "until=2000-01-01T00:00:00Z").isEmpty)
            #expect(try await ids(client, "since=2000-01-01T00:00:00Z&until=2999-01-01T00:00:00Z").count == 4)
            #expect(try await ids(client, "group=\(groupID)&key=order-7%2Fconfirm").isEmpty)
            try await client.execute(uri: "/api/tasks?search=\(loose)", method: .get) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/api/tasks/\(loose)")
            }
            try await client.execute(uri: "/tasks?search=+\(loose)+", method: .get) { response in
                #expect(response.status == .seeOther)
                #expect(response.headers[.location] == "/tasks/\(loose)")
            }
            try await client.execute(uri: "/tasks?group=\(groupID)", method: .get) { response in
                let page = String(buffer: response.body)
                #expect(page.contains("/tasks/\(grouped[0])") && !page.contains("/tasks/\(keyed)\""))
                #expect(page.contains("name=\"group\" value=\"\(groupID)\""))
            }
            for (query, parameter) in [("group=x", "group 'x'"), ("until=soon", "until 'soon'")] {
                try await client.execute(uri: "/api/tasks?\(query)", method: .get) { response in
                    #expect(response.status == .badRequest)
                    let message = try json(response)["error"] as? String
                    #expect(message?.hasPrefix(parameter) == true, "\(query)")
                }
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
