import DurableTestKit
import Foundation
import Testing

/// A `postgres://` database that cannot be used: each command says so in one
/// line naming host, port and database, exits with 2, and does not hang.
///
/// A wrong password cannot be told here: the test server trusts every local
/// connection and ignores passwords, so an unknown role stands for a refused login.
@Suite("durable on PostgreSQL: a server that cannot be used is one line naming it")
struct PostgresConnectionErrorTests {
    /// Runs `arguments` on `url`; checks one line naming `host:port/database`
    /// and the cause in `words` (which tells a refusal from the connect timeout,
    /// and both from the pool's silent retrying), and exit status 2.
    private func expectRefused(
        _ arguments: [String], url: String, naming place: String, saying words: String
    ) async throws {
        let directory = TemporaryDirectory()
        let output = try await durableTool(arguments + ["--db", url], in: directory.path)
        let lines = output.standardError.split(separator: "\n")
        #expect(output.status == 2, "\(arguments): \(output)")
        #expect(lines.count == 1, "\(arguments): \(output.standardError)")
        #expect(lines.first?.hasPrefix("Error: cannot connect to postgres://") == true, "\(output.standardError)")
        #expect(lines.first?.contains(place) == true, "\(output.standardError)")
        #expect(lines.first?.contains(words) == true, "\(output.standardError)")
    }

    @Test("a port nothing listens on: refused, for ls, run, schema and migrate")
    func closedPort() async throws {
        let port = try unusedPort()
        let url = try postgresURL { $0.port = port }
        let directory = TemporaryDirectory()
        let jobs = directory.file("jobs.txt")
        try write("echo never\n", to: jobs)
        for command in [["ls"], ["run", jobs], ["schema"], ["migrate"]] {
            try await expectRefused(
                command, url: url, naming: "@127.0.0.1:\(port)/durable", saying: "refused")
        }
    }

    @Test("a server that takes the connection and never answers: refused by the connect timeout, not left to the pool")
    func silentServer() async throws {
        let silent = try BoundSocket()
        defer { silent.close() }
        try silent.listen()
        let url = try postgresURL { $0.port = silent.port }
        try await expectRefused(
            ["ls"], url: url, naming: "@127.0.0.1:\(silent.port)/durable", saying: "timeout")
    }

    @Test("a database that does not exist: the server's reason, naming it")
    func unknownDatabase() async throws {
        let url = try postgresURL { $0.path = "/no_such_database" }
        try await expectRefused(
            ["ls"], url: url, naming: "/no_such_database", saying: "the database does not exist")
        try await expectRefused(
            ["migrate"], url: url, naming: "/no_such_database", saying: "\"no_such_database\" does not exist")
    }

    @Test("an unknown role (the stand-in for a wrong password): authentication failed, naming the role")
    func unknownRole() async throws {
        let url = try postgresURL {
            $0.user = "no_such_role"
            $0.password = "pw_x9q"
        }
        try await expectRefused(
            ["stats"], url: url, naming: "postgres://no_such_role@127.0.0.1:", saying: "authentication failed")
        let output = try await durableTool(["stats", "--db", url])
        #expect(!output.standardError.contains("pw_x9q"), "\(output.standardError)")
    }

    @Test("a URL that cannot be read is one line naming what is wrong, never its password")
    func badURL() async throws {
        let output = try await durableTool(["ls", "--db", "postgres://app:s3cret@127.0.0.1:5432/durable?colour=red"])
        #expect(output.status == 2, "\(output)")
        #expect(output.standardError.contains("unknown parameter colour"), "\(output)")
        #expect(!output.standardError.contains("s3cret"), "\(output)")
    }
}
