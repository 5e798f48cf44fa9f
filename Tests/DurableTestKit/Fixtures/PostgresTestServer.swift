public import DurablePostgres
import Foundation

/// The PostgreSQL server the tests run against: `scripts/test` starts a
/// throwaway cluster and passes its URL in `DURABLE_TEST_POSTGRES_URL`.
///
/// Each test gets a schema of its own (``configuration(schema:)``), so tests
/// run in parallel on one database without seeing each other's tasks.
public enum PostgresTestServer {
    /// The server's URL, if one was given.
    public static var url: String? {
        ProcessInfo.processInfo.environment["DURABLE_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The versions of the PostgreSQL migrations this build embeds: one per
    /// file in `migrations/postgres`, oldest first.
    public static let migrationVersions: [Int] = {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../migrations/postgres").standardized.path
        let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return files.filter { $0.hasSuffix(".sql") }.compactMap { Int($0.prefix(4)) }.sorted()
    }()

    /// Why PostgreSQL tests cannot run, or `nil` when they can.
    public static var missingReason: String? {
        url == nil
            ? "DURABLE_TEST_POSTGRES_URL is not set: run ./scripts/test (which starts a throwaway server), "
                + "or start one with scripts/postgres start and export its URL"
            : nil
    }

    /// A configuration on the test server with a new schema (`t_<random>`), or with
    /// `schema` when given. Leases use the engine's clock unless `leaseClock` says
    /// otherwise: tests move time by hand.
    public static func configuration(
        schema: String? = nil, leaseClock: PostgresConfiguration.LeaseClock = .engine
    ) throws -> PostgresConfiguration {
        guard let url else { throw TestKitError(missingReason ?? "no PostgreSQL server") }
        var configuration = try PostgresConfiguration(url: url)
        configuration.transportSecurity = .disable
        configuration.schema = schema ?? newSchemaName()
        configuration.leaseClock = leaseClock
        configuration.maximumConnections = 3
        configuration.safetyPollInterval = .seconds(2)
        // The tests open many engines at once on a busy machine.
        configuration.connectTimeout = .seconds(30)
        return configuration
    }

    /// The schema that stands for a file path in tests that run on either store:
    /// the same path gives the same schema.
    public static func schemaName(for path: String) -> String {
        // FNV-1a, 64 bits: stable across runs, unlike Hasher.
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in path.utf8 {
            hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
        }
        return "f_" + String(hash, radix: 16)
    }

    /// The URL of a new schema on the test server (for child processes, which
    /// take the database as an argument).
    public static func newSchemaURL() throws -> String {
        guard let url else { throw TestKitError(missingReason ?? "no PostgreSQL server") }
        return url + (url.contains("?") ? "&" : "?") + "schema=" + newSchemaName() + "&sslmode=disable"
    }

    /// The test server's host and port, from its URL.
    public static func address() throws -> (host: String, port: Int) {
        guard let url else { throw TestKitError(missingReason ?? "no PostgreSQL server") }
        guard let parts = URLComponents(string: url), let host = parts.host, !host.isEmpty else {
            throw TestKitError("DURABLE_TEST_POSTGRES_URL names no host: \(url)")
        }
        return (host, parts.port ?? 5432)
    }

    /// `url` (a `postgres://` URL) with another host and port: the same server
    /// reached through a forwarder.
    public static func url(_ url: String, host: String, port: Int) throws -> String {
        guard var parts = URLComponents(string: url) else { throw TestKitError("not a URL: \(url)") }
        parts.host = host
        parts.port = port
        guard let changed = parts.string else { throw TestKitError("cannot make a URL of \(url) on \(host):\(port)") }
        return changed
    }

    /// A schema name no other test uses.
    public static func newSchemaName() -> String {
        "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(16).lowercased()
    }
}
