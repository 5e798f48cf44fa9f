// The main job of the README: a batch of durable tasks in a SQLite file.
//
//     swift run durable-example [--db example.sqlite] [--count 1000]
//
// It submits one task per number (with idempotency keys, so submitting again adds
// nothing), runs them with a worker, and prints each result as it is stored. Kill
// it at any moment (Ctrl-C, kill -9) and run it again: finished tasks are answered
// from the file, interrupted ones run again, the rest continue.
import Durable
import Foundation
import Logging

/// The length of the Collatz sequence from `n` down to 1, computed slowly enough
/// (50 ms per task) that there is time to kill the program.
struct CollatzLength: Job {
    static let name = "collatz-length"

    struct Length: Codable, Sendable {
        var n: Int
        var steps: Int
    }

    func run(_ n: Int, context: TaskContext) async throws -> Length {
        try await Task.sleep(for: .milliseconds(50))
        var value = n
        var steps = 0
        while value > 1 {
            value = value.isMultiple(of: 2) ? value / 2 : 3 * value + 1
            steps += 1
        }
        return Length(n: n, steps: steps)
    }
}

func option(_ name: String, default fallback: String) -> String {
    let arguments = CommandLine.arguments
    guard let index = arguments.firstIndex(of: name), index + 1 < arguments.count else { return fallback }
    return arguments[index + 1]
}

let path = option("--db", default: "example.sqlite")
guard let count = Int(option("--count", default: "1000")), count > 0 else {
    FileHandle.standardError.write(Data("durable-example: --count must be a positive number\n".utf8))
    exit(2)
}

var logger = Logger(label: "durable-example")
logger.logLevel = .notice

do {
    var configuration = EngineConfiguration()
    configuration.maxConcurrentTasks = 8
    configuration.gracefulShutdownTimeout = .seconds(2)
    let engine = try TaskEngine(path: path, configuration: configuration, logger: logger)
    engine.register(CollatzLength())

    let started = ContinuousClock.now
    let longest = try await engine.run { engine in
        let requests = (1...count).map { TaskRequest($0, name: "collatz(\($0))", key: "collatz-\($0)") }
        let tasks = try await engine.createTasks(CollatzLength.self, requests)
        let alreadyDone = try await engine.wait(tasks, timeout: .zero).done.count
        print("\(path): \(count) tasks, \(alreadyDone) already finished before this run")

        var best = CollatzLength.Length(n: 1, steps: 0)
        var finished = 0
        for try await task in engine.asCompleted(tasks) {
            let length = try await task.result()
            if length.steps > best.steps { best = length }
            finished += 1
            if finished % max(1, count / 10) == 0 || finished == count {
                print("  \(finished)/\(count) stored")
            }
        }
        return best
    }
    try engine.close()
    let elapsed = ContinuousClock.now - started
    print("longest chain below \(count + 1): \(longest.n) takes \(longest.steps) steps (\(elapsed) this run)")
    print("inspect it: sqlite3 \(path) 'select * from durable_task_history limit 5'")
} catch {
    FileHandle.standardError.write(Data("durable-example: \(error)\n".utf8))
    exit(1)
}
