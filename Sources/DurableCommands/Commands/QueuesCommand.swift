import ArgumentParser
import Durable
import DurableDashboard
import Foundation

/// `durable queues`: list the queues with their counts and limits; pause, resume, or set limits.
struct QueuesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queues",
        abstract: "List the queues with their counts and limits; pause, resume, or set a queue's limits.",
        discussion: """
            Limits are stored in the database: every worker on it applies them from its next claim. \
            Same as: sqlite3 durable.sqlite 'select * from durable_queue_status' (PostgreSQL: psql URL -c \
            'select * from durable.queue_status').
            """,
        subcommands: [ListQueues.self, PauseQueue.self, ResumeQueue.self, SetQueueLimits.self],
        defaultSubcommand: ListQueues.self)
}

/// `durable queues list`.
struct ListQueues: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the queues, with their state, limits and counts.")

    @OptionGroup var database: DatabaseOption
    @Flag(name: .long, help: "One JSON object per queue and line.") var json = false

    func run() async throws {
        let engine = try await openForReading(database)
        defer { try? engine.close() }
        let queues = try await engine.queues()
        if json {
            for queue in queues {
                let settings = queue.settings
                print(
                    Formatting.jsonLine([
                        "queue": queue.name, "paused": settings.isPaused,
                        "concurrency": settings.concurrency.map { $0 as Any } ?? NSNull(),
                        "worker_concurrency": settings.workerConcurrency.map { $0 as Any } ?? NSNull(),
                        "rate_limit": settings.rateLimit.map { $0.count as Any } ?? NSNull(),
                        "rate_period_ms": settings.rateLimit.map { $0.period.milliseconds as Any }
                            ?? NSNull(),
                        "pending": queue.pending, "running": queue.running,
                    ]))
            }
            return
        }
        var table = TextTable(columns: ["queue", "state", "concurrency", "per worker", "rate", "pending", "running"])
        for queue in queues {
            let settings = queue.settings
            table.add([
                queue.name, settings.isPaused ? "paused" : "active", settings.concurrency.map(String.init) ?? "-",
                settings.workerConcurrency.map(String.init) ?? "-",
                settings.rateLimit.map { "\($0.count) per \(Formatting.duration($0.period.milliseconds))" } ?? "-",
                "\(queue.pending)", "\(queue.running)",
            ])
        }
        print(table.rendered(), terminator: "")
    }
}

/// `durable queues pause QUEUE`.
struct PauseQueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pause", abstract: "Pause a queue: none of its tasks starts; running ones finish.")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The queue's name.") var queue: String

    func run() async throws {
        try await changeQueue(database, queue, "paused") { try await $0.pauseQueue($1) }
    }
}

/// `durable queues resume QUEUE`.
struct ResumeQueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Resume a paused queue.")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The queue's name.") var queue: String

    func run() async throws {
        try await changeQueue(database, queue, "active") { try await $0.resumeQueue($1) }
    }
}

/// Opens the database, applies `change` to `queue` and says what it is now.
private func changeQueue(
    _ database: DatabaseOption, _ queue: String, _ state: String,
    _ change: (TaskEngine, String) async throws -> QueueSettings
) async throws {
    let engine = try await openExisting(database)
    defer { try? engine.close() }
    _ = try await change(engine, queue)
    print("\(queue): \(state)")
}

/// `durable queues set QUEUE --concurrency N --worker-concurrency N --rate N/DURATION`.
struct SetQueueLimits: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "set",
        abstract: "Set a queue's limits; the ones not given stay as they are, \"none\" removes one.")

    @OptionGroup var database: DatabaseOption
    @Argument(help: "The queue's name.") var queue: String
    @Option(name: .long, help: "Tasks of the queue running at once across every worker, or \"none\".")
    var concurrency: LimitArgument?
    @Option(name: .customLong("worker-concurrency"), help: "Tasks of the queue running at once per worker, or \"none\".")
    var workerConcurrency: LimitArgument?
    @Option(name: .long, help: "At most N starts per period, as N/DURATION (10/1m, 5/30s), or \"none\".")
    var rate: RateArgument?

    func validate() throws {
        guard concurrency != nil || workerConcurrency != nil || rate != nil else {
            throw ValidationError("give --concurrency, --worker-concurrency or --rate")
        }
    }

    func run() async throws {
        let engine = try await openExisting(database)
        defer { try? engine.close() }
        let current = try await engine.queue(named: queue)?.settings ?? QueueSettings()
        let settings = try await engine.configureQueue(
            queue, concurrency: concurrency.map(\.value) ?? current.concurrency,
            workerConcurrency: workerConcurrency.map(\.value) ?? current.workerConcurrency,
            rateLimit: rate.map(\.value) ?? current.rateLimit)
        let rateText = settings.rateLimit.map { "\($0.count) per \(Formatting.duration($0.period.milliseconds))" }
        print(
            "\(queue): concurrency \(settings.concurrency.map(String.init) ?? "none"), "
                + "per worker \(settings.workerConcurrency.map(String.init) ?? "none"), rate \(rateText ?? "none")")
    }
}

/// A limit on the command line: a positive number, or "none".
struct LimitArgument: ExpressibleByArgument, Sendable {
    let value: Int?

    init?(argument: String) {
        if argument == "none" {
            value = nil
        } else if let number = Int(argument), number >= 1 {
            value = number
        } else {
            return nil
        }
    }
}

/// A rate on the command line: `N/DURATION`, or "none".
struct RateArgument: ExpressibleByArgument, Sendable {
    let value: RateLimit?

    init?(argument: String) {
        if argument == "none" {
            value = nil
            return
        }
        let parts = argument.split(separator: "/", maxSplits: 1)
        guard parts.count == 2, let count = Int(parts[0]), count >= 1,
            let period = try? DurationArgument(parsing: String(parts[1])), period.milliseconds > 0
        else { return nil }
        value = RateLimit(count, per: period.duration)
    }
}
