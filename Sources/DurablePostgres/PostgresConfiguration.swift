import DurableEngine
import Foundation

/// Where a PostgreSQL store lives and how it talks to the server.
///
/// ```swift
/// let postgres = try PostgresConfiguration(url: "postgres://app:secret@db.internal:5432/jobs")
/// let engine = try await TaskEngine(postgres: postgres)
/// ```
///
/// Durable keeps its tables in a schema of its own (``schema``, `durable` by
/// default) beside the application's; several engines, on as many machines,
/// share one database and its schema.
public struct PostgresConfiguration: Sendable, Hashable {
    /// How the client protects the connection.
    public enum TransportSecurity: String, Sendable, Hashable {
        /// Plain TCP (a server on the same host or a private network).
        case disable
        /// TLS when the server offers it, plain TCP otherwise.
        case prefer
        /// TLS, or no connection.
        case require
    }

    /// Which clock leases are written and judged with.
    public enum LeaseClock: String, Sendable, Hashable {
        /// The database server's: hosts whose clocks disagree still agree on when
        /// a lease ends. The default.
        case database
        /// The engine's `EngineConfiguration.clock`: for tests that move time by
        /// hand (`ManualClock`).
        case engine
    }

    /// The server's host name or address.
    public var host: String
    /// The server's port.
    public var port: Int
    /// The role to connect as.
    public var username: String
    /// Its password, if the server asks for one.
    public var password: String?
    /// The database.
    public var database: String
    /// The schema holding Durable's tables, views and functions (created when missing).
    public var schema: String
    /// TLS for the connections.
    public var transportSecurity: TransportSecurity
    /// At most this many connections to the server, for this engine.
    public var maximumConnections: Int
    /// How long connecting may take before it fails with an error naming the server.
    public var connectTimeout: Duration
    /// How long a write waits, retrying through lost connections and a restarting
    /// server, before it fails (the engine then reports the store as failing).
    public var reconnectTimeout: Duration
    /// How often, while something waits, the store reads for changes even without a
    /// notification: the safety net for one lost with a connection.
    public var safetyPollInterval: Duration
    /// How long the store keeps listening for notifications after the last wait
    /// ends (a worker listens while it runs): a caller that awaits one task after
    /// another neither listens again nor reads everything again each time. Zero:
    /// it stops at once. The listening holds one connection meanwhile.
    public var listenLinger: Duration
    /// Which clock leases use.
    public var leaseClock: LeaseClock
    /// The first word of each session's `application_name` (the rest tells this
    /// engine's sessions apart), as `pg_stat_activity` shows it.
    public var applicationName: String

    /// A configuration with every field given or defaulted.
    public init(
        host: String = "127.0.0.1", port: Int = 5432, username: String = "postgres", password: String? = nil,
        database: String = "postgres", schema: String = "durable", transportSecurity: TransportSecurity = .prefer,
        maximumConnections: Int = 8, connectTimeout: Duration = .seconds(10), reconnectTimeout: Duration = .seconds(60),
        safetyPollInterval: Duration = .seconds(5), listenLinger: Duration = .seconds(10),
        leaseClock: LeaseClock = .database, applicationName: String = "durable"
    ) {
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.schema = schema
        self.transportSecurity = transportSecurity
        self.maximumConnections = maximumConnections
        self.connectTimeout = connectTimeout
        self.reconnectTimeout = reconnectTimeout
        self.safetyPollInterval = safetyPollInterval
        self.listenLinger = listenLinger
        self.leaseClock = leaseClock
        self.applicationName = applicationName
    }

    /// Reads a `postgres://user:password@host:port/database` URL (also
    /// `postgresql://`); the query may set `schema=`, `sslmode=` (`disable`,
    /// `prefer`, `require`) and `application_name=`.
    ///
    /// - Throws: `DurableError` with code `invalidArgument` naming what is wrong.
    public init(url: String) throws {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme,
            ["postgres", "postgresql"].contains(scheme.lowercased())
        else {
            throw DurableError(
                .invalidArgument, "\(Self.redacted(url)) is not a postgres://user@host:port/database URL")
        }
        self.init()
        host = parts.host.flatMap { $0.isEmpty ? nil : $0 } ?? "127.0.0.1"
        port = parts.port ?? 5432
        username = parts.user.flatMap { $0.isEmpty ? nil : $0 } ?? "postgres"
        password = parts.password
        let path = parts.path.hasPrefix("/") ? String(parts.path.dropFirst()) : parts.path
        database = path.isEmpty ? username : path
        for item in parts.queryItems ?? [] {
            switch item.name {
            case "schema":
                schema = item.value ?? ""
            case "application_name":
                applicationName = item.value ?? ""
            case "sslmode":
                guard let mode = item.value.flatMap(TransportSecurity.init(rawValue:)) else {
                    throw DurableError(
                        .invalidArgument, "sslmode=\(item.value ?? "") in \(Self.redacted(url)): use disable, prefer or require")
                }
                transportSecurity = mode
            default:
                throw DurableError(
                    .invalidArgument, "unknown parameter \(item.name) in \(Self.redacted(url)) (known: schema, sslmode, application_name)")
            }
        }
        try validate()
    }

    /// Whether `text` looks like a PostgreSQL URL rather than a file path.
    public static func isURL(_ text: String) -> Bool {
        text.hasPrefix("postgres://") || text.hasPrefix("postgresql://")
    }

    /// Host, port, database and schema, for messages (never the password).
    public var location: String {
        "postgres://\(username)@\(host):\(port)/\(database) (schema \(schema))"
    }

    /// Checks the values; throws `DurableError` with code `invalidArgument` naming the setting.
    public func validate() throws {
        let identifier = schema.range(of: "^[a-z_][a-z0-9_]{0,49}$", options: .regularExpression) != nil
        guard identifier else {
            throw DurableError(
                .invalidArgument,
                "schema \"\(schema)\" must be 1 to 50 lower-case letters, digits and underscores, not starting with a digit")
        }
        guard applicationName.range(of: "^[A-Za-z0-9_.-]{1,40}$", options: .regularExpression) != nil else {
            throw DurableError(
                .invalidArgument, "applicationName \"\(applicationName)\" must be 1 to 40 letters, digits, _ . or -")
        }
        guard (1...65535).contains(port) else { throw DurableError(.invalidArgument, "port \(port) is out of range") }
        // One connection listens for good; the heartbeat must not queue behind
        // a transaction waiting for a lock on the only other.
        guard maximumConnections >= 3 else {
            throw DurableError(.invalidArgument, "maximumConnections must be at least 3 (it is \(maximumConnections))")
        }
        for (name, value) in [
            ("connectTimeout", connectTimeout), ("reconnectTimeout", reconnectTimeout),
            ("safetyPollInterval", safetyPollInterval),
        ] where value <= .zero {
            throw DurableError(.invalidArgument, "\(name) must be positive")
        }
        guard listenLinger >= .zero else { throw DurableError(.invalidArgument, "listenLinger must not be negative") }
    }

    /// `url` with its password replaced by `***`, also when it does not parse.
    static func redacted(_ url: String) -> String {
        if var parts = URLComponents(string: url) {
            guard parts.password != nil else { return url }
            parts.password = "***"
            return parts.string ?? "(a URL)"
        }
        // Whatever else is wrong with it, it may hold a password: not shown.
        return "the PostgreSQL URL given"
    }
}

extension PostgresConfiguration: CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    /// ``location``: never the password.
    public var description: String { location }
    /// ``location``: never the password.
    public var debugDescription: String { "PostgresConfiguration(\(location))" }
    /// The fields without the password, for `dump` and debuggers.
    public var customMirror: Mirror {
        Mirror(
            self,
            children: [
                "host": host, "port": port, "username": username, "password": password == nil ? "none" : "***",
                "database": database, "schema": schema,
            ])
    }
}
