import ArgumentParser
import Durable
import DurablePostgres
import DurableTestKit
import Foundation
import GRDB
import Logging
import PostgresNIO

/// `app-write`: an application that keeps its orders beside its tasks and
/// writes both in one transaction of its own (issue 17). The database must
/// already hold the application's table `orders (id, total, confirmation)` and
/// Durable's schema: on SQLite in the same file (the application's own pool,
/// shared with the engine), on PostgreSQL in the schema `<Durable's schema>_app`
/// (the application's own connection, whose search path it is). Orders
/// `--first`..<`--first` + `--count` are each written in one transaction with a
/// `noop` task (input: the order's id, key "order:<id>"), whose id the order row
/// keeps; prints "WROTE N" at the end. With `--hold`, the first transaction
/// appends "holding" to that file after both writes and then waits,
/// uncommitted, until the process is killed.
struct AppWrite: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app-write", abstract: "Write orders and their tasks in the application's transactions.")

    @OptionGroup var common: CommonOptions
    @Option(help: "The first order's id.") var first = 1
    @Option(help: "How many orders.") var count: Int
    @Option(help: "Append 'holding' here inside the first transaction, then wait until killed.") var hold: String?

    func validate() throws {
        guard count >= 0, first >= 1 else { throw ValidationError("--count must not be negative, --first at least 1") }
    }

    func run() async {
        await Worker.perform("app-write", common) { logger in
            if PostgresConfiguration.isURL(common.database) {
                try await writeOnPostgres(logger: logger)
            } else {
                try await writeOnSQLite(logger: logger)
            }
            say("WROTE \(count)")
        }
    }

    /// Waits, inside the application's transaction, until the process is killed.
    private func holdUntilKilled(_ file: String) throws -> Never {
        try appendLine("holding", to: file)
        while true { sleep(1) }
    }

    private func writeOnSQLite(logger: Logger) async throws {
        var configuration = Configuration()
        configuration.busyMode = .timeout(60)
        let pool = try DatabasePool(path: common.database, configuration: configuration)
        let engine = try TaskEngine(sharing: pool, configuration: Worker.configuration(concurrency: 8), logger: logger)
        for order in first..<(first + count) {
            try await pool.write { db in
                try db.execute(sql: "INSERT INTO orders (id, total) VALUES (?, ?)", arguments: [order, order * 10])
                let task = try engine.createTask(Noop.self, order, key: "order:\(order)", in: db)
                try db.execute(sql: "UPDATE orders SET confirmation = ? WHERE id = ?", arguments: [task.id.rawValue, order])
                if let hold { try holdUntilKilled(hold) }
            }
        }
        try engine.close()
    }

    private func writeOnPostgres(logger: Logger) async throws {
        let postgres = try PostgresConfiguration(url: common.database)
        let engine = try await TaskEngine(
            postgres: postgres, configuration: Worker.configuration(concurrency: 8), logger: logger)
        var session = PostgresConnection.Configuration(
            host: postgres.host, port: postgres.port, username: postgres.username, password: postgres.password,
            database: postgres.database, tls: .disable)
        session.options.additionalStartupParameters = [("search_path", postgres.schema + "_app")]
        let connection = try await PostgresConnection.connect(configuration: session, id: 1, logger: logger)
        do {
            for order in first..<(first + count) {
                try await connection.withTransaction(logger: logger) { connection in
                    try await connection.query(
                        "INSERT INTO orders (id, total) VALUES (\(order), \(order * 10))", logger: logger)
                    let task = try await engine.createTask(Noop.self, order, key: "order:\(order)", in: connection)
                    try await connection.query(
                        "UPDATE orders SET confirmation = \(task.id.rawValue) WHERE id = \(order)", logger: logger)
                    if let hold { try holdUntilKilled(hold) }
                }
            }
        } catch {
            try? await connection.close()
            throw error
        }
        try await connection.close()
        try engine.close()
    }
}
