import DurableEngine
import Foundation
import NIOCore
import NIOPosix
import PostgresNIO

/// How the PostgreSQL store reads postgres-nio's errors: which are worth another
/// try, and the ``DurableError`` that names the server for the others.
enum PostgresErrors {
    /// What kind of failure an error is.
    enum Kind: Equatable {
        /// The connection failed or could not be made, or the server is starting
        /// or shutting down: nothing of the transaction committed; try again.
        case connection
        /// The server rolled the transaction back (deadlock, serialization
        /// failure): try again at once.
        case conflict
        /// Anything else: report it.
        case permanent

        var isTransient: Bool { self != .permanent }
    }

    /// The SQLSTATE of a server error.
    static func sqlState(_ error: any Error) -> String? {
        (error as? PSQLError)?.serverInfo?[.sqlState]
    }

    static func classify(_ error: any Error) -> Kind {
        // A connection given up (closed under a statement, or silent): nothing of
        // the transaction committed unless COMMIT was sent (handled apart).
        if error is AnswerGuard.NoAnswer { return .connection }
        guard let error = error as? PSQLError else {
            // The pool's own errors (its module is not public): it gave up making
            // connections for now.
            return "\(error)".contains("connectionCreationCircuitBreakerTripped") ? .connection : .permanent
        }
        switch error.code {
        case .connectionError, .serverClosedConnection, .uncleanShutdown, .clientClosedConnection:
            return .connection
        case .server:
            let state = error.serverInfo?[.sqlState] ?? ""
            if state == "40001" || state == "40P01" { return .conflict }
            // 57P01 admin_shutdown (also pg_terminate_backend), 57P02 crash_shutdown,
            // 57P03 cannot_connect_now (starting up), 53300 too_many_connections (the
            // server is full for now), class 08: connection exceptions; 25P03 and
            // 57P05: the server ended a session idle (in a transaction) too long —
            // a client starved of CPU for that long — rolling its transaction back.
            let connectionStates = ["57P01", "57P02", "57P03", "57P05", "53300", "25P03"]
            if connectionStates.contains(state) || state.hasPrefix("08") { return .connection }
            return .permanent
        default:
            return .permanent
        }
    }

    /// The server's message (and SQLSTATE), or the error's own words: never
    /// postgres-nio's redacted description.
    static func detail(_ error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let info = error.serverInfo {
            let message = info[.message] ?? "server error"
            let state = info[.sqlState].map { " (SQLSTATE \($0))" } ?? ""
            let more = info[.detail].map { "; \($0)" } ?? ""
            return message + more + state
        }
        if let underlying = error.underlying { return socketFailure(underlying) }
        return "\(error.code)"
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

    /// A ``DurableError`` naming `location` and what was being done; Durable's own
    /// errors and cancellation pass through.
    static func describe(_ error: any Error, location: String, operation: String) -> any Error {
        if error is DurableError || error is CancellationError { return error }
        let detail = detail(error)
        switch sqlState(error) {
        case "28P01", "28000":
            return DurableError(.cannotOpen, "cannot connect to \(location): authentication failed: \(detail)")
        case "3D000":
            return DurableError(.cannotOpen, "cannot connect to \(location): the database does not exist: \(detail)")
        case "42501":
            return DurableError(.readOnlyDatabase, "\(location) refused to \(operation): permission denied: \(detail)")
        case "53100":
            return DurableError(.diskFull, "the disk of \(location) is full (could not \(operation)): \(detail)")
        case "25006":
            return DurableError(.readOnlyDatabase, "\(location) is read-only (could not \(operation)): \(detail)")
        default:
            break
        }
        switch classify(error) {
        case _ where operation == "connect":
            return DurableError(.cannotOpen, "cannot connect to \(location): \(detail)")
        case .connection:
            return DurableError(
                .storeUnavailable, "cannot reach \(location) (could not \(operation)): \(detail)")
        case .conflict, .permanent:
            return DurableError(.storage, "could not \(operation) in \(location): \(detail)")
        }
    }
}
