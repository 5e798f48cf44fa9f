// DurableBench: Durable's side of compare.sh. Each subcommand runs one workload on
// a fresh file under $DURABLE_BENCH_DIR (default /tmp/durable-bench) — or, with
// `--postgres URL` (or $DURABLE_BENCH_POSTGRES), in a fresh schema of that PostgreSQL
// database — and prints one JSON line, like the peers' scripts; progress and errors
// go to standard error. On PostgreSQL, durability is the server's (fsync,
// synchronous_commit: printed in the line's "server"), and --sync must stay FULL.
//
//     DurableBench e2e        --n N [--sync FULL|NORMAL] [--concurrency 256] [--chunk 10000]
//     DurableBench e2e-one-by-one --n N [--sync] [--concurrency 256]   the peers' e2e method
//     DurableBench enqueue    --n N [--batch 1] [--sync]
//     DurableBench latency    --n N [--sync] [--cross-process]
//     DurableBench submitters --n N [--callers 64] [--sync] [--concurrency 64]   request handlers: create one, await it
//     DurableBench restart    --n N [--sync] [--concurrency 256] [--first-only]
//     DurableBench multi      --workers 8 --n N [--sync] [--concurrency 64]
//     DurableBench crash      --n 1000 [--concurrency 4] [--kill-after 1.0] [--sync]
//     DurableBench dashboard  --n 1000000 [--repeats 20] [--sync]   the dashboard's server time per route
//     DurableBench queues     --mode keys|beside-rated --n N [--keys 1000] [--rated 10000] [--sync] [--concurrency 256]
//     DurableBench app-transaction --n N [--sync]   an order and its task: two commits, or one in the app's transaction
//     (each also takes --postgres postgres://user@host:port/db)
//
// `restart` stores N pending tasks in a DurableTestWorker child process (so
// that this process's peak RSS is the restart's alone), then opens the database and
// runs everything (with --first-only: until the first task ran).
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
    if let server = arguments.optional("postgres") { setenv("DURABLE_BENCH_POSTGRES", server, 1) }
    let sync = try durability(named: arguments.string("sync", default: "FULL"))
    if BenchDatabase.postgresServer != nil && sync != .powerLossSafe {
        fail("--sync \(sync.syncName) is SQLite's: on PostgreSQL durability is the server's (synchronous_commit)")
    }
    let n = try arguments.int("n", default: 10_000)
    let workers = try arguments.int("workers", default: 8)
    let prefix = arguments.command == "multi" ? "multi-\(workers)-" : ""
    let database = try await BenchDatabase.fresh("\(prefix)\(arguments.command)-\(n)-\(sync.syncName.lowercased()).sqlite")
    var result: [String: Any]
    switch arguments.command {
    case "e2e":
        result = try await endToEnd(
            database: database, n: n, durability: sync,
            concurrency: try arguments.int("concurrency", default: 256), chunk: try arguments.int("chunk", default: 10_000))
    case "e2e-one-by-one":
        result = try await endToEndOneByOne(
            database: database, n: n, durability: sync, concurrency: try arguments.int("concurrency", default: 256))
    case "app-transaction":
        result = try await applicationTransaction(database: database, n: n, durability: sync)
    case "enqueue":
        result = try await enqueue(
            database: database, n: n, batch: try arguments.int("batch", default: 1), durability: sync)
    case "latency":
        result = arguments.flag("cross-process")
            ? try await latencyCrossProcess(database: database, samples: n, durability: sync)
            : try await latencyInProcess(database: database, samples: n, durability: sync)
    case "submitters":
        result = try await submitters(
            database: database, n: n, callers: try arguments.int("callers", default: 64), durability: sync,
            concurrency: try arguments.int("concurrency", default: 64))
    case "restart":
        note("storing \(n) pending tasks in \(database) (DurableTestWorker seed)")
        try WorkerProcess.seed(database, n: n)
        result = try await restart(
            database: database, pending: n, runUntil: arguments.flag("first-only") ? 1 : nil, durability: sync,
            concurrency: try arguments.int("concurrency", default: 256))
    case "multi":
        result = try await multiProcess(
            database: database, workers: workers, n: n, durability: sync,
            concurrency: try arguments.int("concurrency", default: 64))
    case "crash":
        result = try await crash(
            database: database, n: n, concurrency: try arguments.int("concurrency", default: 4),
            killAfter: .milliseconds(Int(try arguments.double("kill-after", default: 1.0) * 1000)), durability: sync)
    case "queues":
        result = try await queueWorkload(
            database: database, mode: arguments.string("mode", default: "keys"), n: n,
            keys: try arguments.int("keys", default: 1000), rated: try arguments.int("rated", default: 10_000),
            durability: sync, concurrency: try arguments.int("concurrency", default: 256))
    case "dashboard":
        note("storing \(n) tasks in \(database) and running them, then timing the dashboard's routes")
        result = try await dashboardTimes(
            database: database, n: n, repeats: try arguments.int("repeats", default: 20), durability: sync)
    default:
        fail("unknown subcommand \(arguments.command)")
    }
    if arguments.command != "restart" {
        result["peak_rss_mb"] = Double(Int((Double(residentMemory()?.peak ?? 0) / 1_048_576) * 10)) / 10
    }
    result["store"] = database.storeName
    if let server = try await database.serverSettings() { result["server"] = server }
    if ["restart", "dashboard"].contains(arguments.command) || BenchDatabase.postgresServer != nil {
        try await database.remove()
    }
    result["env"] = environmentInfo()
    print(jsonLine(result))
} catch {
    fail("\(error)")
}
