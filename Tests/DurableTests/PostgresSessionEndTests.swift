@testable import DurablePostgres
import DurableTestKit
import Foundation
import Logging
import PostgresNIO
import Testing

/// Sessions the server ends on its own: what the store makes of the error the
/// next statement gets. A session that idled in a transaction past
/// `idle_in_transaction_session_timeout` (the store sets 10 s; a client starved
/// of CPU that long hits it) had its transaction rolled back, so the write is
/// tried again, as after any lost connection, instead of failing.
@Suite("PostgreSQL sessions the server ends")
struct PostgresSessionEndTests {
    @Test("a transaction idle past the server's limit ends with an error the store retries as a lost connection")
    func idleInTransaction() async throws {
        let configuration = try PostgresTestServer.configuration()
        var session = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: .disable)
        session.options.additionalStartupParameters = [("idle_in_transaction_session_timeout", "200ms")]
        let quiet = Logger(label: "session-end") { _ in SwiftLogNoOpLogHandler() }
        let connection = try await PostgresConnection.connect(configuration: session, id: 1, logger: quiet)
        _ = try await connection.query("BEGIN", logger: quiet).collect()
        _ = try await connection.query("SELECT 1", logger: quiet).collect()
        // The server ends the session once it has idled 200 ms in the transaction
        // (each statement starts the wait again, so they are a second apart); the
        // next statement gets its error, or finds the connection closed.
        var failure: (any Error)?
        for _ in 0..<10 where failure == nil {
            try await Task.sleep(for: .seconds(1))
            // As the store runs statements: postgres-nio may wait for good on a
            // connection the server closed, which the guard gives up.
            do {
                try await AnswerGuard.run(
                    timeout: .seconds(30), isClosed: { connection.isClosed }, giveUp: { connection.closeNow() }
                ) {
                    _ = try await connection.query("SELECT 1", logger: quiet).collect()
                }
            } catch {
                failure = error
            }
        }
        try? await connection.close()
        let error = try #require(failure, "the server never ended the idle session")
        #expect(PostgresErrors.classify(error) == .connection, "\(String(reflecting: error))")
    }
}
