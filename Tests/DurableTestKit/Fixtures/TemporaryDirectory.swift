public import Durable
public import Logging
import Foundation
public import DurablePostgres

/// A fresh directory per test, removed when released.
public final class TemporaryDirectory: Sendable {
    public let path: String

    public init() {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/durable-tests-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    /// A path inside the directory.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Logs go nowhere unless DURABLE_TEST_LOGS is set.
public let testLogger: Logger = {
    var logger = Logger(label: "DurableTests") { label -> any LogHandler in
        if ProcessInfo.processInfo.environment["DURABLE_TEST_LOGS"] != nil {
            return StreamLogHandler.standardError(label: label)
        }
        return SwiftLogNoOpLogHandler()
    }
    logger.logLevel = .debug
    return logger
}()

/// An engine on a new file in `directory`, with the test jobs registered
/// (``registerTestJobs(on:gates:counter:log:)``). Tests that drive time pass the
/// library's own `ManualClock` through `configure` (`$0.clock = clock`).
public func makeEngine(
    in directory: TemporaryDirectory, file: String = "test.sqlite", gates: Gates = Gates(),
    counter: RunCounter = RunCounter(), log: CallbackLog = CallbackLog(), logger: Logger = testLogger,
    configure: (inout EngineConfiguration) -> Void = { _ in },
    sqlite configureSQLite: (inout SQLiteConfiguration) -> Void = { _ in }
) throws -> TaskEngine {
    var configuration = EngineConfiguration()
    configuration.gracefulShutdownTimeout = .zero
    configure(&configuration)
    var sqlite = SQLiteConfiguration()
    configureSQLite(&sqlite)
    let engine = try TaskEngine(path: directory.file(file), configuration: configuration, sqlite: sqlite, logger: logger)
    registerTestJobs(on: engine, gates: gates, counter: counter, log: log)
    return engine
}

/// An engine as ``makeEngine(in:file:gates:counter:log:logger:configure:sqlite:)``
/// makes it, on a new schema of the PostgreSQL test server (``PostgresTestServer``).
public func makePostgresEngine(
    schema: String? = nil, gates: Gates = Gates(), counter: RunCounter = RunCounter(), log: CallbackLog = CallbackLog(),
    logger: Logger = testLogger, configure: (inout EngineConfiguration) -> Void = { _ in },
    postgres configurePostgres: (inout PostgresConfiguration) -> Void = { _ in }
) async throws -> TaskEngine {
    var configuration = EngineConfiguration()
    configuration.gracefulShutdownTimeout = .zero
    configure(&configuration)
    var postgres = try PostgresTestServer.configuration(schema: schema)
    configurePostgres(&postgres)
    let engine = try await TaskEngine(postgres: postgres, configuration: configuration, logger: logger)
    registerTestJobs(on: engine, gates: gates, counter: counter, log: log)
    return engine
}

/// An engine on the store of this test run (``TestStore``): on SQLite, as
/// ``makeEngine(in:file:gates:counter:log:logger:configure:sqlite:)`` makes it;
/// on PostgreSQL, on a schema named after `directory` and `file`, so that
/// opening the same directory and file again opens the same tasks (a restart).
public func makeTestEngine(
    in directory: TemporaryDirectory, file: String = "test.sqlite", gates: Gates = Gates(),
    counter: RunCounter = RunCounter(), log: CallbackLog = CallbackLog(), logger: Logger = testLogger,
    configure: (inout EngineConfiguration) -> Void = { _ in },
    sqlite configureSQLite: (inout SQLiteConfiguration) -> Void = { _ in }
) async throws -> TaskEngine {
    switch TestStore.current {
    case .sqlite:
        return try makeEngine(
            in: directory, file: file, gates: gates, counter: counter, log: log, logger: logger, configure: configure,
            sqlite: configureSQLite)
    case .postgres:
        return try await makePostgresEngine(
            schema: PostgresTestServer.schemaName(for: directory.file(file)), gates: gates, counter: counter, log: log,
            logger: logger, configure: configure)
    }
}
