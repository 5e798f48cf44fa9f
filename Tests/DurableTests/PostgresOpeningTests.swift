import DurableTestKit
import Durable
import DurablePostgres
import Foundation
import Testing

/// Opening an engine on PostgreSQL with bad input: an unreachable server, an
/// unknown database or role, a schema that is not Durable's, a newer schema.
/// Each gives a ``DurableError`` naming host, port and database, and nothing
/// stored is changed.
@Suite("Opening on PostgreSQL")
struct PostgresOpeningTests {
    private func openingError(_ configuration: PostgresConfiguration) async -> DurableError? {
        do {
            let engine = try await TaskEngine(postgres: configuration, logger: testLogger)
            try engine.close()
            Issue.record("opening must fail")
            return nil
        } catch let error as DurableError {
            return error
        } catch {
            Issue.record("not a DurableError: \(error)")
            return nil
        }
    }

    @Test("a port nothing listens on, an unknown database, an unknown role: cannotOpen naming host, port and database")
    func unreachable() async throws {
        var closedPort = try PostgresTestServer.configuration()
        closedPort.port = 1
        var unknownDatabase = try PostgresTestServer.configuration()
        unknownDatabase.database = "no_such_database"
        var unknownRole = try PostgresTestServer.configuration()
        unknownRole.username = "no_such_role"
        for (configuration, reason) in [
            (closedPort, "refused"), (unknownDatabase, "does not exist"), (unknownRole, "does not exist"),
        ] {
            let error = await openingError(configuration)
            #expect(error?.code == .cannotOpen)
            let named = "\(configuration.username)@\(configuration.host):\(configuration.port)/\(configuration.database)"
            #expect(error?.message.contains(named) == true, "\(String(describing: error))")
            #expect(error?.message.lowercased().contains(reason) == true, "\(String(describing: error))")
        }
    }

    @Test("a schema holding another program's tables is refused, and left as it was")
    func foreignSchema() async throws {
        let configuration = try PostgresTestServer.configuration()
        let probe = try await SQLProbe.open(postgres: try PostgresTestServer.configuration(schema: "public"))
        try await probe.execute("CREATE SCHEMA \(configuration.schema)")
        try await probe.execute("CREATE TABLE \(configuration.schema).orders (id BIGINT PRIMARY KEY)")
        let error = await openingError(configuration)
        #expect(error?.code == .notADurableDatabase)
        #expect(error?.message.contains("schema \(configuration.schema)") == true)
        #expect(
            try await probe.strings(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = '\(configuration.schema)'")
                == ["orders"])
        try await probe.execute("DROP SCHEMA \(configuration.schema) CASCADE")
        await probe.close()
    }

    @Test("a schema a newer Durable wrote is refused naming its version; nothing is changed")
    func newerSchema() async throws {
        let configuration = try PostgresTestServer.configuration()
        try await TaskEngine(postgres: configuration, logger: testLogger).close()
        let probe = try await SQLProbe.open(postgres: configuration)
        try await probe.execute("INSERT INTO durable_migrations VALUES (999, 'from_the_future', 0)")
        let error = await openingError(configuration)
        #expect(error?.code == .schemaTooNew)
        #expect(error?.message.contains("schema version 999") == true)
        #expect(try await probe.int("SELECT count(*) FROM durable_migrations") == PostgresTestServer.migrationVersions.count + 1)
        try await probe.execute("DROP SCHEMA \(configuration.schema) CASCADE")
        await probe.close()
    }

    @Test("eight processes' worth of engines opening one new schema at once migrate it once")
    func racingMigrations() async throws {
        let configuration = try PostgresTestServer.configuration()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask { try await TaskEngine(postgres: configuration, logger: testLogger).close() }
            }
            try await group.waitForAll()
        }
        let probe = try await SQLProbe.open(postgres: configuration)
        #expect(try await probe.strings("SELECT version FROM durable_migrations ORDER BY version") == PostgresTestServer.migrationVersions.map(String.init))
        #expect(PostgresTestServer.migrationVersions.count >= 4)
        try await probe.execute("DROP SCHEMA \(configuration.schema) CASCADE")
        await probe.close()
    }
}
