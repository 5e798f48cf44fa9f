import Durable
import DurableDashboard
import Hummingbird
import HummingbirdTesting
import Logging

/// Runs `body` with a client of a dashboard over `engine`, served for real (a
/// live server on a free port of 127.0.0.1).
func withLiveDashboard(
    _ engine: TaskEngine, access: Dashboard.Access = Dashboard.Access(),
    _ body: @Sendable (any TestClientProtocol) async throws -> Void
) async throws {
    let dashboard = Dashboard(engine: engine, access: access)
    try await dashboard.application(host: "127.0.0.1", port: 0, logger: Logger(label: "dashboard-test")).test(.live, body)
}
