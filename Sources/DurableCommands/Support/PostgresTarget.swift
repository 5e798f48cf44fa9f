import Durable
import DurablePostgres
import Foundation
import Logging
import PostgresNIO

/// A PostgreSQL database named by `--db postgres://...` (or `$DURABLE_DB`): its
/// configuration, how messages and hints name it (never with the password), and
/// a first connection that fails fast and says why.
struct PostgresTarget: Sendable {
    var configuration: PostgresConfiguration

    /// Reads `url`; a URL without a password takes `$PGPASSWORD`, as `psql` does
    /// (so that the password need not be on the command line, where `ps` shows it).
    ///
    /// - Throws: ``CommandError`` naming what is wrong with the URL (never its password).
    init(url: String, environment: [String: String] = ProcessInfo.processInfo.environment) throws {
        do {
            configuration = try PostgresConfiguration(url: url)
        } catch let error as DurableError {
            // Its message may quote the URL whole, password and all.
            throw CommandError("--db: " + error.message.replacingOccurrences(of: url, with: Self.redacted(url)))
        }
        if configuration.password == nil, let password = environment["PGPASSWORD"], !password.isEmpty {
            configuration.password = password
        }
    }

    /// `postgres://user@host:port/database (schema s)`, for messages.
    var location: String { configuration.location }

    /// The database as `psql` takes it: the URL without the password or Durable's
    /// `schema` parameter (psql asks for the password, or reads `$PGPASSWORD`).
    var psqlURL: String {
        var parts = Self.components(of: configuration)
        if configuration.transportSecurity != .prefer {
            parts.queryItems = [URLQueryItem(name: "sslmode", value: configuration.transportSecurity.rawValue)]
        }
        return parts.string ?? "postgres://\(configuration.username)@\(configuration.host)/\(configuration.database)"
    }

    /// The database and schema as one string without the password
    /// (`postgres://user@host:port/database?schema=s`): what lines see in
    /// `DURABLE_DATABASE`, and what finds a line's earlier processes on this host.
    var identity: String {
        var parts = Self.components(of: configuration)
        parts.queryItems = [URLQueryItem(name: "schema", value: configuration.schema)]
        return parts.string ?? location
    }

    /// `sql` as a `psql` command line; `sql` names Durable's tables and views
    /// through `prefix` (`durable.`: the schema).
    func psqlCommand(_ sql: (_ prefix: String) -> String) -> String {
        "psql \"\(psqlURL)\" -c \"\(sql(configuration.schema + "."))\""
    }

    /// Connects once and disconnects, so that an unreachable server, a refused
    /// login or a missing database is one clear error within
    /// ``PostgresConfiguration/connectTimeout``.
    ///
    /// The engine's connection pool does not fail a request when connecting
    /// fails: it tries again, with growing pauses, for about a minute before it
    /// gives up, and then without the server's reason. So the commands check with
    /// a single connection of their own first.
    ///
    /// - Throws: ``CommandError`` naming host, port and database, and why.
    func checkConnection() async throws {
        let limit = configuration.connectTimeout
        let connection = try makeConnectionConfiguration()
        let location = location
        let outcome = try await withThrowingTaskGroup(of: String?.self) { group in
            group.addTask {
                do {
                    let opened = try await PostgresConnection.connect(
                        configuration: connection, id: 0, logger: Self.quiet)
                    try? await opened.close()
                    return nil
                } catch {
                    return Self.describe(error, location: location)
                }
            }
            group.addTask {
                try await Task.sleep(for: limit + .seconds(1))
                return "cannot connect to \(location): no answer within \(limit) (is the server up?)"
            }
            defer { group.cancelAll() }
            return try await group.next() ?? nil
        }
        if let outcome { throw CommandError(outcome) }
    }

    private func makeConnectionConfiguration() throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch configuration.transportSecurity {
        case .disable:
            tls = .disable
        case .prefer:
            tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require:
            tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var connection = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: tls)
        let limit = configuration.connectTimeout.components
        connection.options.connectTimeout = .nanoseconds(limit.seconds * 1_000_000_000 + limit.attoseconds / 1_000_000_000)
        connection.options.additionalStartupParameters = [("application_name", "durable (connection check)")]
        return connection
    }

    /// One line saying why connecting failed: the server's own words for a refused
    /// login or a missing database, the socket's for an unreachable server.
    static func describe(_ error: any Error, location: String) -> String {
        guard let error = error as? PSQLError else { return "cannot connect to \(location): \(error)" }
        if let info = error.serverInfo {
            let message = info[.message] ?? "the server refused the connection"
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            switch info[.sqlState] {
            case "28P01", "28000":
                return "cannot connect to \(location): authentication failed: \(message)\(state)"
            case "3D000":
                return "cannot connect to \(location): the database does not exist: \(message)\(state)"
            default:
                return "cannot connect to \(location): \(message)\(state)"
            }
        }
        let cause = error.underlying.map(socketFailure) ?? "\(error.code)"
        return "cannot connect to \(location): \(cause)"
    }

    /// The system's words for a failed connect ("Connection refused"), not NIO's
    /// nested description of every address tried.
    private static func socketFailure(_ error: any Error) -> String {
        var error = error
        if let attempts = error as? NIOConnectionError, let first = attempts.connectionErrors.first {
            error = first.error
        }
        if let failure = error as? IOError { return String(cString: strerror(failure.errnoCode)) }
        return "\(error)"
    }

    /// Scheme, user, host, port and database of `configuration`.
    private static func components(of configuration: PostgresConfiguration) -> URLComponents {
        var parts = URLComponents()
        parts.scheme = "postgres"
        parts.user = configuration.username
        parts.host = configuration.host
        parts.port = configuration.port
        parts.path = "/" + configuration.database
        return parts
    }

    /// `url` with any password replaced by `***` (all of it, when it cannot be read).
    static func redacted(_ url: String) -> String {
        guard var parts = URLComponents(string: url) else { return "the PostgreSQL URL given" }
        guard parts.password != nil else { return url }
        parts.password = "***"
        return parts.string ?? "the PostgreSQL URL given"
    }

    private static let quiet = Logger(label: "durable", factory: { _ in SwiftLogNoOpLogHandler() })
}
