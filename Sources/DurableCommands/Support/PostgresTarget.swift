import Durable
import DurablePostgres
import Foundation
import Logging

/// A PostgreSQL database named by `--db postgres://...` (or `$DURABLE_DB`): its
/// configuration and how messages and hints name it (never with the password).
/// (Opening the engine fails fast, saying why, when the server cannot be used.)
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

}
