import ArgumentParser
import Durable
import DurableTestKit
import Foundation

/// `schedule`: a worker that declares the minutely schedule `crash` (every
/// tick runs, missed ticks of the last day are caught up) and keeps it going
/// until killed, on a clock that runs `--speed` times faster than real time:
/// it reads `--start-ms` at the real instant `--origin-ms`, so that processes
/// started with the same three values agree on the time.
struct ScheduleWorker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "schedule", abstract: "Keep a minutely schedule going on a fast clock until killed.")

    @OptionGroup var common: CommonOptions
    @Option(name: .customLong("origin-ms"), help: "The real Unix milliseconds at which the clock reads --start-ms.")
    var origin: Int64
    @Option(name: .customLong("start-ms"), help: "What the clock reads at --origin-ms.") var start: Int64
    @Option(help: "How many times faster than real time the clock runs.") var speed: Int64 = 600

    func run() async throws {
        await Worker.perform("schedule", common) { logger in
            var configuration = Worker.configuration(concurrency: 16)
            configuration.clock = FastClock(origin: origin, start: start, speed: speed)
            // Leases and heartbeats run on the fast clock too: an hour is seconds.
            configuration.leaseDuration = .seconds(3600)
            let engine = try await Worker.openEngine(
                common.database, configuration: configuration, sqlite: Worker.sqlite(), logger: logger)
            engine.register(Noop())
            let utc = TimeZone(identifier: "UTC") ?? .current
            try await engine.schedule(
                "crash", cron: "* * * * *", timeZone: utc, job: Noop.self, input: 1, overlap: .allowAll,
                catchUp: .runEach(within: .seconds(86_400)))
            say("READY")
            try await engine.run()
        }
    }
}

/// A clock `speed` times faster than the system's, reading `start` at the real instant `origin`.
struct FastClock: TaskClock {
    let origin: Int64
    let start: Int64
    let speed: Int64

    func now() -> Int64 { start + (SystemClock().now() - origin) * speed }

    func sleep(for duration: Duration) async throws {
        try await Task.sleep(for: duration / Int(speed))
    }
}
