import ArgumentParser
import Durable
import DurableTestKit
import Foundation

/// `seed`: stores N pending `noop` tasks (inputs 0..<N) in transactions of
/// `--batch`, and prints one JSON line: the benchmarks' file of pending work,
/// made in a process of its own so that the benchmark's memory is not touched.
struct Seed: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Store N pending noop tasks (benchmarks).")

    @OptionGroup var common: CommonOptions
    @Option(help: "How many tasks.") var count: Int
    @Option(help: "Tasks per transaction.") var batch = 10_000
    @Option(help: "FULL or NORMAL (PRAGMA synchronous).") var sync = SyncMode(argument: "FULL")!

    func validate() throws {
        guard count >= 0, batch >= 1 else { throw ValidationError("--count must not be negative, --batch at least 1") }
    }

    func run() async {
        await Worker.perform("seed", common) { logger in
            let start = monotonicNanoseconds()
            do {
                var configuration = Worker.configuration(concurrency: 256)
                configuration.gracefulShutdownTimeout = .seconds(5)
                let engine = try await Worker.openEngine(common.database, configuration: configuration, sqlite: Worker.sqlite(sync: sync),
                    logger: logger)
                for first in stride(from: 0, to: count, by: batch) {
                    try await engine.createTasks(Noop.self, inputs: Array(first..<min(count, first + batch)))
                }
            }
            let seconds = Double(monotonicNanoseconds() - start) / 1e9
            let size = (try? FileManager.default.attributesOfItem(atPath: common.database)[.size] as? Int) ?? 0
            let object: [String: Any] = [
                "workload": "seed", "n": count, "seconds": (seconds * 1000).rounded() / 1000,
                "tasks_per_s": (Double(count) / seconds * 10).rounded() / 10, "file_bytes": size,
            ]
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            say(String(decoding: data, as: UTF8.self))
        }
    }
}
