import ArgumentParser
import Durable
import DurablePostgres
import DurableTestKit
import Foundation
import Logging

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// What every subcommand takes.
struct CommonOptions: ParsableArguments {
    @Argument(help: "The database: an SQLite file, or a postgres:// URL (with ?schema=).") var database: String
    @Option(name: .customLong("fsize-limit"), help: "RLIMIT_FSIZE in bytes (SIGXFSZ ignored).") var fileSizeLimit: Int?
    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: LogLevel?
}

/// A log level by name (`Logger.Level`'s raw values).
struct LogLevel: ExpressibleByArgument {
    let level: Logger.Level

    init?(argument: String) {
        guard let level = Logger.Level(rawValue: argument) else { return nil }
        self.level = level
    }
}

/// `FIRST-LAST`: a range of task ids.
struct IDRange: ExpressibleByArgument {
    let ids: ClosedRange<Int64>

    init?(argument: String) {
        let parts = argument.split(separator: "-").compactMap { Int64($0) }
        guard parts.count == 2, parts[0] <= parts[1] else { return nil }
        ids = parts[0]...parts[1]
    }
}

/// `FULL` or `NORMAL` (any case), as in `PRAGMA synchronous`.
struct SyncMode: ExpressibleByArgument {
    let durability: Durability

    init?(argument: String) {
        switch argument.uppercased() {
        case "FULL": durability = .powerLossSafe
        case "NORMAL": durability = .processCrashSafe
        default: return nil
        }
    }
}

/// Writes a line to standard output at once (unbuffered, so that lines of a process
/// killed later are not lost).
func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
}

enum Worker {
    /// Sets the process up as `common` says, then runs `body` with a logger; an
    /// error ends the process with "ERROR <code>: <message>" and status 3.
    static func perform(_ mode: String, _ common: CommonOptions, _ body: (Logger) async throws -> Void) async -> Never {
        if let limit = common.fileSizeLimit { limitFileSize(to: limit) }
        let environment = ProcessInfo.processInfo.environment
        let level =
            common.logLevel?.level
            ?? (environment["DURABLE_WORKER_LOG_LEVEL"] ?? environment["TORTURE_WORKER_LOG_LEVEL"])
            .flatMap { Logger.Level(rawValue: $0) } ?? .notice
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        do {
            try await body(Logger(label: "DurableTestWorker-\(mode)[\(getpid())]"))
        } catch {
            report(error)
            exit(3)
        }
        exit(0)
    }

    /// Prints an error as "ERROR <code>: <message>".
    static func report(_ error: any Error) {
        if let error = error as? DurableError {
            say("ERROR \(error.code): \(error.message)")
        } else {
            say("ERROR \(String(reflecting: type(of: error))): \(error)")
        }
    }

    static func limitFileSize(to bytes: Int) {
        signal(SIGXFSZ, SIG_IGN)
        var limit = rlimit(rlim_cur: rlim_t(bytes), rlim_max: rlim_t(bytes))
        #if os(Linux)
            let result = setrlimit(__rlimit_resource_t(RLIMIT_FSIZE.rawValue), &limit)
        #else
            let result = setrlimit(RLIMIT_FSIZE, &limit)
        #endif
        if result != 0 {
            say("ERROR setup: setrlimit(RLIMIT_FSIZE) failed with errno \(errno)")
            exit(4)
        }
    }

    /// The engine settings every subcommand starts from: `concurrency` slots, no
    /// grace period at shutdown.
    static func configuration(concurrency: Int) -> EngineConfiguration {
        var configuration = EngineConfiguration()
        configuration.maxConcurrentTasks = concurrency
        configuration.gracefulShutdownTimeout = .zero
        return configuration
    }

    /// An engine on `database`: a PostgreSQL URL (`postgres://...?schema=...`)
    /// or an SQLite file.
    static func openEngine(
        _ database: String, configuration: EngineConfiguration, sqlite: SQLiteConfiguration, logger: Logger
    ) async throws -> TaskEngine {
        guard PostgresConfiguration.isURL(database) else {
            return try TaskEngine(path: database, configuration: configuration, sqlite: sqlite, logger: logger)
        }
        return try await TaskEngine(
            postgres: try PostgresConfiguration(url: database), configuration: configuration, logger: logger)
    }

    /// The SQLite settings: `sync`'s durability, and `$DURABLE_BENCH_POLL_US` as
    /// the change-poll interval when set.
    static func sqlite(sync: SyncMode? = nil) -> SQLiteConfiguration {
        var sqlite = SQLiteConfiguration()
        if let sync { sqlite.durability = sync.durability }
        if let micros = ProcessInfo.processInfo.environment["DURABLE_BENCH_POLL_US"].flatMap(Int.init) {
            sqlite.changePollInterval = .microseconds(micros)
        }
        return sqlite
    }

    /// Handles of tasks `ids` (waiting for those not created yet), of the jobs
    /// this worker knows, by result type.
    static func reattach(_ ids: ClosedRange<Int64>, in engine: TaskEngine) async throws
        -> (numbers: [DurableTask<Int>], texts: [DurableTask<String>])
    {
        var numbers: [DurableTask<Int>] = []
        var texts: [DurableTask<String>] = []
        for raw in ids {
            let id = TaskID(raw)
            switch try await record(of: id, in: engine).job {
            case CrashWork.name: numbers.append(try await engine.task(id: id, as: CrashWork.self))
            case Pipeline.name: numbers.append(try await engine.task(id: id, as: Pipeline.self))
            case Leaf.name: numbers.append(try await engine.task(id: id, as: Leaf.self))
            case Plain.name: numbers.append(try await engine.task(id: id, as: Plain.self))
            case Napper.name: numbers.append(try await engine.task(id: id, as: Napper.self))
            case FanSteps.name: numbers.append(try await engine.task(id: id, as: FanSteps.self))
            case Filler.name: numbers.append(try await engine.task(id: id, as: Filler.self))
            case ShareWork.name: numbers.append(try await engine.task(id: id, as: ShareWork.self))
            case Noop.name: numbers.append(try await engine.task(id: id, as: Noop.self))
            case Sleepy.name: numbers.append(try await engine.task(id: id, as: Sleepy.self))
            case Spanned.name: numbers.append(try await engine.task(id: id, as: Spanned.self))
            case Sleeper.name: texts.append(try await engine.task(id: id, as: Sleeper.self))
            case AwaitMessage.name: texts.append(try await engine.task(id: id, as: AwaitMessage.self))
            default: break
            }
        }
        return (numbers, texts)
    }

    /// The record of task `id`, waiting until it has been created.
    static func record(of id: TaskID, in engine: TaskEngine) async throws -> TaskRecord {
        while true {
            do {
                return try await engine.record(of: id)
            } catch let error as DurableError where error.code == .unknownTask {
                try await Task.sleep(for: .milliseconds(5))
            }
        }
    }

    /// Waits until tasks `ids` have finished (waiting for those not created yet).
    static func wait(for ids: ClosedRange<Int64>, in engine: TaskEngine) async throws {
        let (numbers, texts) = try await reattach(ids, in: engine)
        if !numbers.isEmpty { _ = try await engine.wait(numbers) }
        if !texts.isEmpty { _ = try await engine.wait(texts) }
    }
}
