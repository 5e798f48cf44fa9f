import ArgumentParser
import Durable
import DurableTestKit
import Foundation
import GRDB

/// `app-write`: an application that keeps its orders in the same file as its
/// tasks (issue 17). The file must already hold the application's table `orders
/// (id, total, confirmation)` and Durable's schema. Orders `--first`..<`--first`
/// + `--count` are each written in one transaction of the application's own
/// pool together with a `noop` task (input: the order's id, key "order:<id>"),
/// whose id the order row keeps; prints "WROTE N" at the end. With `--hold`,
/// the first transaction appends "holding" to that file after both writes and
/// then waits, uncommitted, until the process is killed.
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
            var configuration = Configuration()
            configuration.busyMode = .timeout(60)
            let pool = try DatabasePool(path: common.database, configuration: configuration)
            let engine = try TaskEngine(sharing: pool, configuration: Worker.configuration(concurrency: 8), logger: logger)
            for order in first..<(first + count) {
                try await pool.write { db in
                    try db.execute(sql: "INSERT INTO orders (id, total) VALUES (?, ?)", arguments: [order, order * 10])
                    let task = try engine.createTask(Noop.self, order, key: "order:\(order)", in: db)
                    try db.execute(
                        sql: "UPDATE orders SET confirmation = ? WHERE id = ?", arguments: [task.id.rawValue, order])
                    if let hold {
                        try appendLine("holding", to: hold)
                        while true { sleep(1) }
                    }
                }
            }
            try engine.close()
            say("WROTE \(count)")
        }
    }
}
