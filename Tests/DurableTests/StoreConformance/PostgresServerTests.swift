import DurableTestKit
import Testing

/// The PostgreSQL suites need a server; without one they would be skipped in
/// silence. This test fails instead, saying how to give them one.
@Suite("PostgreSQL test server")
struct PostgresServerTests {
    @Test("the tests have a PostgreSQL server")
    func serverIsConfigured() {
        #expect(PostgresTestServer.missingReason == nil, "\(PostgresTestServer.missingReason ?? "")")
    }
}
