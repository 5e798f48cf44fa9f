import DurableEngine
import Foundation
import Logging
import NIOCore
import NIOSSL
import PostgresNIO
import Synchronization

/// The connections of one PostgreSQL store: a `PostgresClient` pool whose
/// sessions use Durable's schema and carry this store's name, and the
/// transactions and reads the store runs on it, retried through lost connections
/// and a restarting server.
///
/// A transaction whose connection fails before `COMMIT` is sent changed nothing
/// and runs again; so does one the server rolled back for a deadlock or a
/// serialization failure. One whose `COMMIT` got no answer may or may not have
/// committed: it is not run again (``DurableError/Code/storeUnavailable``), and
/// the store's change feed reads at once, as for another process's commit, so
/// this process learns what did commit.
final class PostgresDatabase: Sendable {
    let client: PostgresClient
    let configuration: PostgresConfiguration
    /// Each session's `application_name`: the notifications of this store's
    /// commits carry it, which is how its change feed tells them from others'.
    let sessionName: String
    private let running: Task<Void, Never>
    let logger: Logger
    /// Called after a `COMMIT` whose outcome is unknown.
    let uncertainCommits = UncertainCommits()

    init(configuration: PostgresConfiguration, logger: Logger) {
        self.configuration = configuration
        self.logger = logger
        sessionName = "\(configuration.applicationName) \(UUID().uuidString.prefix(13).lowercased())"
        var client = Self.clientConfiguration(configuration, sessionName: sessionName)
        client.options.maximumConnections = configuration.maximumConnections
        client.options.connectionIdleTimeout = .seconds(60)
        let postgres = PostgresClient(configuration: client, backgroundLogger: logger)
        self.client = postgres
        // Started at once (up to its first suspension), so the pool runs before
        // the first lease.
        running = Task.immediate { await postgres.run() }
    }

    /// The postgres-nio configuration of a session on `configuration`'s server.
    static func clientConfiguration(_ configuration: PostgresConfiguration, sessionName: String)
        -> PostgresClient.Configuration
    {
        let tls: PostgresClient.Configuration.TLS =
            switch configuration.transportSecurity {
            case .disable: .disable
            case .prefer: .prefer(.makeClientConfiguration())
            case .require: .require(.makeClientConfiguration())
            }
        var client = PostgresClient.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: tls)
        client.options.connectTimeout = configuration.connectTimeout
        client.options.additionalStartupParameters = [
            ("application_name", sessionName), ("search_path", configuration.schema),
            // Every statement with parameters is planned once, generically (also
            // an unnamed one): the hot statements are written for such plans (rows
            // looked up by primary key from their arrays). Left to choose, the
            // server planned the worker's cycle again at every call (0.45 ms,
            // twice the time it took to run it).
            ("plan_cache_mode", "force_generic_plan"),
        ] + serverSideLimits
        return client
    }

    /// Connects once, outside the pool, and runs `SELECT 1`: the pool keeps
    /// retrying a server it cannot reach (for a minute) without saying why, while
    /// this fails after the connect timeout with the server's or the network's
    /// reason (refused, unknown database, unknown role, wrong password).
    static func checkReachable(_ configuration: PostgresConfiguration, logger: Logger) async throws {
        let tls: PostgresConnection.Configuration.TLS =
            switch configuration.transportSecurity {
            case .disable: .disable
            case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
            case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
            }
        var session = PostgresConnection.Configuration(
            host: configuration.host, port: configuration.port, username: configuration.username,
            password: configuration.password, database: configuration.database, tls: tls)
        session.options.connectTimeout = .nanoseconds(
            Int64(configuration.connectTimeout.components.seconds) * 1_000_000_000
                + configuration.connectTimeout.components.attoseconds / 1_000_000_000)
        session.options.additionalStartupParameters = [("application_name", "durable opening")]
        // A server that takes the connection and never answers the handshake is
        // given up after the connect timeout too.
        let limit = configuration.connectTimeout + .seconds(1)
        let connecting = session
        do {
            try await AnswerGuard.run(timeout: limit, isClosed: { false }, giveUp: {}) {
                let connection = try await PostgresConnection.connect(configuration: connecting, id: 0, logger: logger)
                do {
                    try await connection.run("SELECT 1")
                    try await connection.close()
                } catch {
                    try? await connection.close()
                    throw error
                }
            }
        } catch is AnswerGuard.NoAnswer {
            throw DurableError(
                .cannotOpen, "cannot connect to \(configuration.location): no answer within \(limit) (is the server up?)")
        } catch {
            throw PostgresErrors.describe(error, location: configuration.location, operation: "connect")
        }
    }

    /// How long the server keeps a session of this store that is idle inside a
    /// transaction (`idle_in_transaction_session_timeout`) before it ends the
    /// session, rolling the transaction back. The store's transactions send their
    /// statements one after the other and never wait on anything else, so only a
    /// client cut off by the network (or stopped) idles in one; without this, its
    /// locks (the completion counter's row, the tasks it was finishing) would
    /// stay held until TCP gives up on the connection, hours later, and every
    /// other host's completions and recovery would wait for them. Shorter than
    /// ``answerTimeout``, so that a statement waiting on such a lock usually gets
    /// its answer before it is given up. (The cut-off host's other statements
    /// already queued for the same lock get it in turn, and each holds it, idle,
    /// as long again: `lock_timeout` would end that; a follow-up.)
    static let idleInTransactionTimeout = Duration.seconds(10)

    /// What the server does about a client that went away: a session idle in a
    /// transaction ends after ``idleInTransactionTimeout``; idle sockets are
    /// probed every 10 s after 30 s of silence; and the server checks that the
    /// client is still there while a statement runs (PostgreSQL 14 and newer).
    static let serverSideLimits: [(String, String)] = [
        ("idle_in_transaction_session_timeout", "\(idleInTransactionTimeout.components.seconds)s"),
        ("tcp_keepalives_idle", "30"), ("tcp_keepalives_interval", "10"), ("tcp_keepalives_count", "3"),
        ("client_connection_check_interval", "10s"),
    ]

    /// Stops the pool; later calls fail.
    func close() {
        running.cancel()
    }

    var location: String { configuration.location }

    // MARK: Running statements

    /// Runs `body` in a transaction on one connection, again after a failure that
    /// left nothing committed, until ``PostgresConfiguration/reconnectTimeout``.
    ///
    /// `answerTimeout` bounds how long the call may wait for the server (`nil`:
    /// as long as the connection lives, for work that waits for locks, such as
    /// a migration).
    ///
    /// When `body` runs `singleStatement`, it runs without `BEGIN` and `COMMIT`
    /// (the server commits the statement as it ends), then a `SELECT 1` whose
    /// answer says that the commit happened: one round trip fewer. A connection
    /// lost once the statement was sent leaves its outcome unknown, as a
    /// `COMMIT`'s.
    func write<T: Sendable>(
        _ operation: String, answerTimeout: Duration? = PostgresDatabase.answerTimeout, singleStatement: Bool = false,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await retrying(operation) {
            try await self.client.withConnection { connection in
                let commit = CommitMark()
                do {
                    return try await AnswerGuard.run(
                        timeout: answerTimeout, executor: EventLoopExecutor(connection.eventLoop),
                        isClosed: { connection.isClosed },
                        giveUp: {
                            commit.abandon()
                            connection.closeNow()
                        }
                    ) {
                        guard singleStatement else { return try await Self.transaction(on: connection, commit: commit, body) }
                        try commit.markSent()
                        do {
                            let value = try await body(connection)
                            // postgres-nio hands a statement's rows over at its
                            // CommandComplete, but PostgreSQL commits the statement's
                            // implicit transaction at the Sync after it: a session
                            // ended in between (pg_terminate_backend, a restart) rolls
                            // back a statement whose rows arrived (a claim would run
                            // its tasks, then claim them again). The next statement on
                            // the connection is answered only after that commit.
                            try await connection.run("SELECT 1")
                            return value
                        } catch where PostgresErrors.classify(error) == .connection {
                            throw CommitOutcomeUnknown(underlying: error)
                        }
                    }
                } catch let error as AnswerGuard.NoAnswer where commit.sent {
                    throw CommitOutcomeUnknown(underlying: error)
                }
            }
        }
    }

    /// Runs `body` on one connection, outside a transaction (each statement sees
    /// the latest commits), again after a lost connection.
    func read<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T
    {
        try await retrying(operation) {
            try await self.client.withConnection { connection in
                try await AnswerGuard.run(
                    timeout: Self.answerTimeout, executor: EventLoopExecutor(connection.eventLoop),
                    isClosed: { connection.isClosed }, giveUp: { connection.closeNow() }
                ) {
                    try await body(connection)
                }
            }
        }
    }

    /// How long one call's statements may wait for the server's answers before
    /// the connection is given up as lost (a network cut sends nothing back;
    /// a closed connection is given up at once).
    static let answerTimeout = Duration.seconds(60)

    /// `BEGIN`, `body`, `COMMIT` on `connection`; `ROLLBACK` when `body` throws.
    private static func transaction<T: Sendable>(
        on connection: PostgresConnection, commit: CommitMark, _ body: @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        try await connection.run("BEGIN")
        let value: T
        do {
            value = try await body(connection)
        } catch {
            try? await connection.run("ROLLBACK")
            throw error
        }
        try commit.markSent()
        do {
            try await connection.run("COMMIT")
        } catch {
            throw CommitOutcomeUnknown(underlying: error)
        }
        return value
    }

    private func retrying<T: Sendable>(_ operation: String, _ attempt: () async throws -> T) async throws -> T {
        let started = ContinuousClock.now
        var pause = Duration.milliseconds(20)
        var attempts = 0
        while true {
            attempts += 1
            do {
                return try await attempt()
            } catch let error as CommitOutcomeUnknown {
                uncertainCommits.happened()
                throw DurableError(
                    .commitOutcomeUnknown,
                    "the connection to \(location) failed after COMMIT was sent (could not \(operation)); it may or "
                        + "may not be stored: \(PostgresErrors.detail(error.underlying))")
            } catch {
                // A cancelled caller sees cancellation, not the pool's words for it.
                if Task.isCancelled { throw CancellationError() }
                let kind = PostgresErrors.classify(error)
                let waited = ContinuousClock.now - started
                guard kind.isTransient, waited < configuration.reconnectTimeout, !Task.isCancelled else {
                    throw PostgresErrors.describe(error, location: location, operation: operation)
                }
                if attempts == 1 || kind == .connection {
                    logger.debug(
                        "retrying \(operation) on \(location)",
                        metadata: ["error": "\(PostgresErrors.detail(error))", "attempt": "\(attempts)"])
                }
                let jitter = Double.random(in: 0.5...1.0)
                try await Task.sleep(for: pause * jitter)
                pause = min(pause * 2, kind == .connection ? .seconds(2) : .milliseconds(200))
            }
        }
    }
}

/// Whether a transaction's `COMMIT` was sent, or the call was given up first
/// (then it never is).
final class CommitMark: Sendable {
    private enum State { case open, sent, abandoned }
    private let state = Mutex(State.open)

    /// Whether `COMMIT` was sent (stable once the call was given up).
    var sent: Bool { state.withLock { $0 == .sent } }

    /// Marks `COMMIT` as about to be sent; throws if the call was given up.
    func markSent() throws {
        try state.withLock { state in
            guard state == .open else { throw CancellationError() }
            state = .sent
        }
    }

    /// The call is given up: no `COMMIT` may be sent from now on.
    func abandon() {
        state.withLock { state in
            if state == .open { state = .abandoned }
        }
    }
}

/// A `COMMIT` sent on a connection that failed before the server answered.
struct CommitOutcomeUnknown: Error {
    var underlying: any Error
}

/// Who wants to know about commits of unknown outcome (the change feed).
final class UncertainCommits: Sendable {
    private let handler = Mutex<(@Sendable () -> Void)?>(nil)

    func onUncertainCommit(_ body: @escaping @Sendable () -> Void) {
        handler.withLock { $0 = body }
    }

    func happened() {
        handler.withLock { $0 }?()
    }
}

extension PostgresConnection {
    /// Runs a statement whose rows, if any, are not needed.
    func run(_ query: PostgresQuery) async throws {
        _ = try await rows(query)
    }

    /// Runs a statement and returns its rows.
    func rows(_ query: PostgresQuery) async throws -> [PostgresRow] {
        let rows = try await self.query(query, logger: Self.quiet).collect()
        AnswerGuard.progress?.answered()
        return rows
    }

    /// Closes the connection at once, failing what waits on it.
    func closeNow() {
        let _: EventLoopFuture<Void> = close()
    }

    /// The first column of the first row, if any.
    func value<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type = T.self) async throws -> T? {
        guard let row = try await rows(query).first else { return nil }
        let cell = row.makeRandomAccess()[0]
        return cell.bytes == nil ? nil : try cell.decode(T.self)
    }

    /// The first column of every row.
    func values<T: PostgresDecodable>(_ query: PostgresQuery, as type: T.Type = T.self) async throws -> [T] {
        try await rows(query).map { try $0.makeRandomAccess()[0].decode(T.self) }
    }

    static let quiet = Logger(label: "DurablePostgres", factory: { _ in SwiftLogNoOpLogHandler() })
}
