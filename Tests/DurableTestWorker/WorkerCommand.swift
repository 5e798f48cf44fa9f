// DurableTestWorker: the one worker harness of Durable's tests. The crash and
// multi-process tests, the torture suite (TORTURE.md) and the benchmarks start it,
// kill it with SIGKILL and start it again.
//
//     DurableTestWorker run    DB [options]   a worker for the kill jobs, until killed, SIGTERM, or --wait-ids
//     DurableTestWorker submit DB --count N --ack FILE [--job crash-work|filler] ...
//     DurableTestWorker open   DB --go-file FILE
//     DurableTestWorker share  DB --index I --processes P --seconds S --log FILE ...
//     DurableTestWorker serve  DB [--seconds S] [--wait-ids FIRST-LAST] ...
//     DurableTestWorker probe  DB
//     DurableTestWorker seed   DB --count N [--batch N] [--sync FULL|NORMAL]
//     DurableTestWorker cron   (questions on standard input: scripts/cron-check)
//     DurableTestWorker schedule DB --origin-ms MS --start-ms MS [--speed N]
//     DurableTestWorker app-write DB --count N [--first F] [--hold FILE]
//
// `DurableTestWorker help <subcommand>` lists a subcommand's options. Every
// subcommand takes --fsize-limit BYTES (RLIMIT_FSIZE for this process, with
// SIGXFSZ ignored, so that writes past it fail with EFBIG) and --log-level LEVEL
// (default: $DURABLE_WORKER_LOG_LEVEL, else $TORTURE_WORKER_LOG_LEVEL, else notice;
// logs go to standard error). Bad arguments end it with ArgumentParser's message
// (status 64); an error of the engine with a line "ERROR <code>: <message>" on
// standard output and status 3.

import ArgumentParser

@main
struct WorkerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "DurableTestWorker",
        abstract: "The worker process of Durable's crash tests, torture suite and benchmarks.",
        subcommands: [
            Run.self, Submit.self, Open.self, Share.self, Serve.self, Probe.self, Seed.self, Cron.self, ScheduleWorker.self,
            AppWrite.self,
        ])
}
