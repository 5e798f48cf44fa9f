public import Durable
import DurablePostgres
import DurableTestKit
import Foundation
import InMemoryTracing
import MetricsTestKit
import Tracing
import Logging

/// Where a workload's tasks live: a fresh SQLite file in ``benchDirectory``, or —
/// when `$DURABLE_BENCH_POSTGRES` names a server (`postgres://user@host:port/db`) —
/// a fresh schema of that database, named after the workload.
public enum BenchDatabase: Sendable, CustomStringConvertible {
    case sqlite(path: String)
    case postgres(url: String, schema: String)

    /// The server the workloads use instead of SQLite files, if one is set.
    public static var postgresServer: String? {
        ProcessInfo.processInfo.environment["DURABLE_BENCH_POSTGRES"].flatMap { $0.isEmpty ? nil : $0 }
    }

    /// A database named after `name` holding nothing: a file with no database,
    /// journal or WAL left from before, or a schema dropped and not yet created.
    public static func fresh(_ name: String) async throws -> BenchDatabase {
        guard let server = postgresServer else { return .sqlite(path: try freshPath(name)) }
        let schema = schemaName(for: name)
        let database = BenchDatabase.postgres(
            url: server + (server.contains("?") ? "&" : "?") + "schema=" + schema, schema: schema)
        try await database.remove()
        return database
    }

    /// `name` as a schema name: `bench_` and its letters, digits and underscores
    /// (a file extension dropped).
    static func schemaName(for name: String) -> String {
        let stem = name.hasSuffix(".sqlite") ? String(name.dropLast(".sqlite".count)) : name
        let word = stem.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "_" }
        return "bench_" + String(word)
    }

    /// What DurableTestWorker (and the durable CLI) take as the database: the path or the URL.
    public var description: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(let url, _): url
        }
    }

    /// The store's name in result lines.
    public var storeName: String {
        switch self {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    /// A path prefix for the workload's side files (ready markers, execution logs).
    public var scratchPrefix: String {
        switch self {
        case .sqlite(let path): path
        case .postgres(_, let schema): "\(benchDirectory)/\(schema)"
        }
    }

    /// Removes the file and its companions, or drops the schema.
    public func remove() async throws {
        switch self {
        case .sqlite(let path):
            removeDatabase(at: path)
        case .postgres(let url, let schema):
            try FileManager.default.createDirectory(atPath: benchDirectory, withIntermediateDirectories: true)
            let probe = try await SQLProbe.open(url)
            do {
                try await probe.execute("DROP SCHEMA IF EXISTS \(schema) CASCADE")
            } catch {
                await probe.close()
                throw error
            }
            await probe.close()
        }
    }

    /// An engine on this database with the library's defaults but for durability
    /// (SQLite's `synchronous`; PostgreSQL's durability is the server's) and
    /// concurrency, logging only warnings and errors (to standard error).
    ///
    /// With `$DURABLE_BENCH_OBSERVE=1`, the engine reports its metrics and spans
    /// to in-memory backends (swift-metrics' test factory, the in-memory tracer):
    /// what observing costs; `metrics` or `traces` reports only those.
    /// `$DURABLE_BENCH_CLAIM_AHEAD=N` sets `maxTasksClaimedAhead` (0: claims only for free slots).
    public func makeEngine(durability: Durability, concurrency: Int = 256) async throws -> TaskEngine {
        var configuration = EngineConfiguration()
        configuration.maxConcurrentTasks = concurrency
        configuration.maxTasksClaimedAhead = ProcessInfo.processInfo.environment["DURABLE_BENCH_CLAIM_AHEAD"]
            .flatMap { Int($0) }
        configuration.gracefulShutdownTimeout = .seconds(5)
        let observing = ProcessInfo.processInfo.environment["DURABLE_BENCH_OBSERVE"]
        if observing == "1" || observing == "metrics" { configuration.metricsFactory = TestMetrics() }
        if observing == "1" || observing == "traces" { configuration.tracer = InMemoryTracer() }
        var logger = Logger(label: "durable-bench") { StreamLogHandler.standardError(label: $0) }
        logger.logLevel = .warning
        switch self {
        case .sqlite(let path):
            var sqlite = SQLiteConfiguration()
            sqlite.durability = durability
            if let micros = ProcessInfo.processInfo.environment["DURABLE_BENCH_POLL_US"].flatMap(Int.init) {
                sqlite.changePollInterval = .microseconds(micros)
            }
            return try TaskEngine(path: path, configuration: configuration, sqlite: sqlite, logger: logger)
        case .postgres(let url, _):
            return try await TaskEngine(
                postgres: try PostgresConfiguration(url: url), configuration: configuration, logger: logger)
        }
    }
}

extension BenchDatabase {
    /// What engines report to in-memory backends (`$DURABLE_BENCH_OBSERVE`: `1` for
    /// metrics and traces, `metrics`, `traces`), or `none`.
    public static var observes: String { ProcessInfo.processInfo.environment["DURABLE_BENCH_OBSERVE"] ?? "none" }

    /// Runs `body` in a span of `engine`'s tracer, if it has one, so that the tasks
    /// it creates store a trace context and their runs link to it.
    public static func traced<T>(_ engine: TaskEngine, _ body: () async throws -> T) async throws -> T {
        guard let tracer = engine.configuration.tracer else { return try await body() }
        let span = tracer.startSpan("bench", context: .topLevel)
        defer { span.end() }
        return try await ServiceContext.withValue(span.context) { try await body() }
    }

    /// The PostgreSQL server's version and the settings that decide its speed and
    /// durability, for result lines; `nil` on SQLite.
    public func serverSettings() async throws -> [String: String]? {
        guard case .postgres(let url, _) = self else { return nil }
        let probe = try await SQLProbe.open(url)
        do {
            let names = [
                "server_version", "fsync", "synchronous_commit", "wal_sync_method", "full_page_writes",
                "shared_buffers", "max_connections", "max_wal_size", "work_mem",
            ]
            var settings: [String: String] = [:]
            for name in names {
                settings[name] = try await probe.strings("SHOW \(name)").first ?? ""
            }
            await probe.close()
            return settings
        } catch {
            await probe.close()
            throw error
        }
    }
}
