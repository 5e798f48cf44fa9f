import Durable
import Foundation
import Logging

/// A fresh directory per test, removed at the end.
final class TemporaryDirectory: Sendable {
    let path: String

    init() {
        let base = FileManager.default.temporaryDirectory.path
        path = "\(base)/durable-tests-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { "\(path)/\(name)" }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// Logs go nowhere unless DURABLE_TEST_LOGS is set.
let testLogger: Logger = {
    var logger = Logger(label: "DurableTests") { label -> any LogHandler in
        if ProcessInfo.processInfo.environment["DURABLE_TEST_LOGS"] != nil {
            return StreamLogHandler.standardError(label: label)
        }
        return SwiftLogNoOpLogHandler()
    }
    logger.logLevel = .debug
    return logger
}()

/// An engine on a new file, with the test jobs registered.
func makeEngine(
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
