// DurableBench: Durable's side of compare.sh. Each subcommand runs one workload on
// a fresh file under $DURABLE_BENCH_DIR (default /tmp/durable-bench) and prints one
// JSON line, like the peers' scripts; progress and errors go to standard error.
//
//     DurableBench e2e        --n N [--sync FULL|NORMAL] [--concurrency 256] [--chunk 10000]
//     DurableBench e2e-one-by-one --n N [--sync] [--concurrency 256]   the peers' e2e method
//     DurableBench enqueue    --n N [--batch 1] [--sync]
//     DurableBench latency    --n N [--sync] [--cross-process]
//     DurableBench restart    --n N [--sync] [--concurrency 256] [--first-only]
//     DurableBench multi      --workers 8 --n N [--sync] [--concurrency 64]
//     DurableBench crash      --n 1000 [--concurrency 4] [--kill-after 1.0] [--sync]
//
// `restart` builds the file with N pending tasks in a DurableTestWorker child process (so
// that this process's peak RSS is the restart's alone), then opens it and runs
// everything (with --first-only: until the first task ran).
import BenchSupport
import Durable
import Foundation

func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("DurableBench: \(message)\n".utf8))
    exit(1)
}

func note(_ message: String) {
    FileHandle.standardError.write(Data("[DurableBench] \(message)\n".utf8))
}

do {
    let arguments = try Arguments(
        Array(CommandLine.arguments.dropFirst()), switches: ["cross-process", "first-only"])
    let sync = try durability(named: arguments.string("sync", default: "FULL"))
    let n = try arguments.int("n", default: 10_000)
    let name = "\(arguments.command)-\(n)-\(sync.syncName.lowercased()).sqlite"
    var result: [String: Any]
    switch arguments.command {
    case "e2e":
        result = try await endToEnd(
            path: try freshPath(name), n: n, durability: sync,
            concurrency: try arguments.int("concurrency", default: 256), chunk: try arguments.int("chunk", default: 10_000))
    case "e2e-one-by-one":
        result = try await endToEndOneByOne(
            path: try freshPath(name), n: n, durability: sync, concurrency: try arguments.int("concurrency", default: 256))
    case "enqueue":
        result = try await enqueue(
            path: try freshPath(name), n: n, batch: try arguments.int("batch", default: 1), durability: sync)
    case "latency":
        let path = try freshPath(name)
        result = arguments.flag("cross-process")
            ? try await latencyCrossProcess(path: path, samples: n, durability: sync)
            : try await latencyInProcess(path: path, samples: n, durability: sync)
    case "restart":
        let path = try freshPath(name)
        note("storing \(n) pending tasks in \(path) (DurableTestWorker seed)")
        try WorkerProcess.seed(path: path, n: n)
        result = try await restart(
            path: path, pending: n, runUntil: arguments.flag("first-only") ? 1 : nil, durability: sync,
            concurrency: try arguments.int("concurrency", default: 256))
        removeDatabase(at: path)
    case "multi":
        let workers = try arguments.int("workers", default: 8)
        result = try await multiProcess(
            path: try freshPath("multi-\(workers)-" + name), workers: workers, n: n, durability: sync,
            concurrency: try arguments.int("concurrency", default: 64))
    case "crash":
        result = try await crash(
            path: try freshPath(name), n: n, concurrency: try arguments.int("concurrency", default: 4),
            killAfter: .milliseconds(Int(try arguments.double("kill-after", default: 1.0) * 1000)), durability: sync)
    default:
        fail("unknown subcommand \(arguments.command)")
    }
    if arguments.command != "restart" {
        result["peak_rss_mb"] = Double(Int((Double(residentMemory()?.peak ?? 0) / 1_048_576) * 10)) / 10
    }
    result["env"] = environmentInfo()
    print(jsonLine(result))
} catch {
    fail("\(error)")
}
