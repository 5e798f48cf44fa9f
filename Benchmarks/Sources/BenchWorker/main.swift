// BenchWorker: a worker process on a shared database file, started by the
// cross-process benchmarks (and compare.sh through DurableBench).
//
//     BenchWorker run  --db FILE [--sync FULL|NORMAL] [--concurrency N] [--ready FILE] [--log FILE]
//     BenchWorker seed --db FILE --count N [--batch N] [--sync FULL|NORMAL]
//
// `run` registers the no-op job (and, with --log, the crash test's sleepy job
// logging to FILE), runs `engine.run()`, creates the --ready file once the worker
// loop has started, and on SIGTERM or SIGINT shuts down (running tasks are handed
// back), then prints {"runs": N}. `seed` stores N pending no-op tasks and prints
// one JSON line.
import BenchSupport
import Dispatch
import Durable
import Foundation

/// Cancels `task` on SIGTERM or SIGINT (the engine then hands back running tasks).
nonisolated func cancelOnTermination(_ task: Task<Void, any Error>) -> [any DispatchSourceSignal] {
    [SIGTERM, SIGINT].map { signalNumber in
        signal(signalNumber, SIG_IGN)
        let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
        source.setEventHandler { @Sendable in task.cancel() }
        source.resume()
        return source
    }
}

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("BenchWorker: \(message)\n".utf8))
    exit(2)
}

do {
    let arguments = try Arguments(Array(CommandLine.arguments.dropFirst()))
    let path = try arguments.string("db")
    let sync = try durability(named: arguments.string("sync", default: "FULL"))
    switch arguments.command {
    case "run":
        let counter = RunCounter()
        let engine = try makeEngine(path: path, durability: sync, concurrency: try arguments.int("concurrency", default: 64))
        engine.register(Noop(counter: counter))
        if let log = arguments.optional("log") { engine.register(Sleepy(log: log)) }
        let worker = Task { try await engine.run() }
        let sources = cancelOnTermination(worker)
        defer { sources.forEach { $0.cancel() } }
        if let ready = arguments.optional("ready") {
            // The worker registers itself and starts claiming right after run() begins.
            try await Task.sleep(for: .milliseconds(20))
            _ = FileManager.default.createFile(atPath: ready, contents: Data())
        }
        try await worker.value
        print(jsonLine(["runs": counter.count]))
    case "seed":
        let result = try await seedPending(
            path: path, n: try arguments.int("count"), batch: try arguments.int("batch", default: 10_000),
            durability: sync)
        print(jsonLine(result))
    default:
        fail("unknown subcommand \(arguments.command): use run or seed")
    }
} catch {
    fail("\(error)")
}
