import AsyncHTTPClient
import DurableTestKit
import Foundation
import NIOCore
import Synchronization
import Testing

/// `durable ui`, the built binary: it serves the dashboard of an SQLite file or
/// a PostgreSQL database on the address it prints, and stops on Ctrl-C.
@Suite("durable ui")
struct DashboardCommandTests {
    /// The stores a database is made on: an SQLite file, a PostgreSQL schema.
    typealias Store = CommandStore

    /// A database with two succeeded lines and a failed one, made by `durable run`.
    private func database(_ store: Store, in directory: TemporaryDirectory) async throws -> String {
        let db = try store.newDatabase(in: directory, file: "jobs.sqlite")
        let jobs = directory.file("jobs.txt")
        try write("echo one\necho two\nexit 3\n", to: jobs)
        let run = try await durableTool(["run", jobs, "--db", db], in: directory.path)
        #expect(run.status == 1, "\(run)")
        return db
    }

    /// Starts `durable ui` on a free port of 127.0.0.1: the process, and the
    /// address it printed (without the trailing slash).
    private func startUI(_ arguments: [String], in directory: TemporaryDirectory, label: String) async throws
        -> (DurableProcess, String)
    {
        let server = try DurableProcess(["ui", "--listen", "127.0.0.1:0"] + arguments, in: directory, label: label)
        var base = ""
        try await poll("durable ui prints its address", timeout: .seconds(60), child: server) {
            guard
                let line = server.standardOutputSoFar.split(separator: "\n").first(where: {
                    $0.hasPrefix("durable ui: http://")
                }),
                let address = line.split(separator: " ").dropFirst(2).first
            else { return false }
            base = String(address.dropLast())
            return true
        }
        return (server, base)
    }

    /// GETs `url`: its status and body.
    private func get(_ url: String, headers: [(String, String)] = []) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 4 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    @Test("serves the overview, the task list and the JSON API on the address it prints; Ctrl-C stops it", arguments: Store.allCases)
    func serves(store: Store) async throws {
        let directory = TemporaryDirectory()
        let db = try await database(store, in: directory)
        let (server, base) = try await startUI(
            ["--db", db, "--token", "t0ken", "--allow-actions"], in: directory, label: "ui-\(store)")
        #expect(try await get(base + "/api/stats").status == 403)
        let bearer = [("Authorization", "Bearer t0ken")]
        let stats = try await get(base + "/api/stats", headers: bearer)
        #expect(stats.status == 200, "\(stats.body)")
        let object = try #require(try JSONSerialization.jsonObject(with: Data(stats.body.utf8)) as? [String: Any])
        let byStatus = try #require(object["by_status"] as? [String: Int])
        #expect(byStatus["succeeded"] == 2 && byStatus["failed"] == 1, "\(stats.body)")
        let tasks = try await get(base + "/tasks?status=failed", headers: bearer)
        #expect(tasks.status == 200)
        #expect(tasks.body.contains("line 3: exit 3"))
        #expect(try await get(base + "/tasks?status=broken", headers: bearer).status == 400)
        // Every batch's lines are tasks of the job durable.run: retry its failed line.
        let csrf = try await get(base + "/api/csrf", headers: bearer)
        let token = try #require(
            (try JSONSerialization.jsonObject(with: Data(csrf.body.utf8)) as? [String: Any])?["csrf"] as? String)
        let job = try #require((object["by_job"] as? [String: Any])?.keys.first)
        #expect(job == "durable.run", "\(job)")
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        var retry = HTTPClientRequest(
            url: base + "/api/jobs/retry-failed?job=" + (job.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""))
        retry.method = .POST
        retry.headers.add(name: "Authorization", value: "Bearer t0ken")
        retry.headers.add(name: "X-CSRF-Token", value: token)
        let retried = try await HTTPClient.shared.execute(retry, timeout: .seconds(30))
        let answer = String(buffer: try await retried.body.collect(upTo: 1 << 20))
        #expect(retried.status.code == 200 && answer.contains("\"retried\":1"), "\(answer)")
        server.signal(SIGINT)
        let ending = try await server.finish(timeout: .seconds(60))
        #expect(ending.status == 0 && !ending.signalled, "\(ending)")
    }

    @Test("live: /api/events sends a change event when another process commits, fed by the change feed", arguments: Store.allCases)
    func liveEvents(store: Store) async throws {
        let directory = TemporaryDirectory()
        let db = try await database(store, in: directory)
        let (server, base) = try await startUI(["--db", db], in: directory, label: "ui-live-\(store)")
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: base + "/api/events"), timeout: .seconds(300))
        #expect(response.status.code == 200)
        #expect(response.headers.first(name: "content-type") == "text/event-stream")
        // What arrives, and when.
        let received = Mutex<[(at: ContinuousClock.Instant, text: String)]>([])
        let reading = Task {
            for try await chunk in response.body {
                let text = String(buffer: chunk)
                received.withLock { $0.append((.now, text)) }
            }
        }
        defer { reading.cancel() }
        // Whatever the stream sends as it starts (a PostgreSQL feed reads once it listens) settles first.
        try await Task.sleep(for: .seconds(2))
        let before = ContinuousClock.now
        let more = directory.file("more.txt")
        try write("echo three\n", to: more)
        let run = try await durableTool(["run", more, "--db", db], in: directory.path)
        #expect(run.status == 0, "\(run)")
        try await poll("a change event after the other process's commits", timeout: .seconds(60), child: server) {
            received.withLock { $0.contains { $0.at > before && $0.text.contains("event: change") } }
        }
        server.signal(SIGINT)
        let ending = try await server.finish(timeout: .seconds(60))
        #expect(ending.status == 0 && !ending.signalled, "\(ending)")
    }

    @Test("refuses to listen beyond this machine without --token, and bad addresses, naming the option")
    func refusals() async throws {
        let directory = TemporaryDirectory()
        let db = try await database(.sqlite, in: directory)
        for (listen, message) in [
            ("0.0.0.0:8080", "reaches beyond this machine: give --token"), ("8080", "expected host:port"),
            ("127.0.0.1:70000", "port from 0 to 65535"),
        ] {
            let output = try await durableTool(["ui", "--db", db, "--listen", listen], in: directory.path)
            #expect(output.status != 0, "\(listen): \(output)")
            #expect(output.standardError.contains(message), "\(listen): \(output)")
        }
        let missing = try await durableTool(["ui", "--db", directory.file("none.sqlite"), "--listen", "127.0.0.1:0"], in: directory.path)
        #expect(missing.status != 0 && missing.standardError.contains("none.sqlite"), "\(missing)")
    }
}
