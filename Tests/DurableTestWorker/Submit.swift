import ArgumentParser
import Durable
import DurableTestKit
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `submit`: creates tasks 0..<N one at a time, one commit each, with the
/// idempotency key "<prefix><i>", appending "i" to the `--ack` file after each
/// creation returned and pausing `--delay-ms` between creations; prints
/// "SUBMITTED N" at the end. `crash-work` tasks get input i; `filler` tasks
/// "i:" followed by `--payload` bytes.
struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Create tasks one per commit, acknowledging each.")

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case crashWork = "crash-work"
        case filler
    }

    @OptionGroup var common: CommonOptions
    @Option(help: "How many tasks.") var count: Int
    @Option(help: "Where each created task's number is appended.") var ack: String
    @Option(help: "The job: crash-work or filler.") var job = Kind.crashWork
    @Option(name: .customLong("key-prefix")) var keyPrefix = "submit-"
    @Option(name: .customLong("delay-ms"), help: "The pause between creations.") var delayMilliseconds = 3
    @Option(help: "The bytes of a filler task's input.") var payload = 1000

    func validate() throws {
        guard count >= 0, delayMilliseconds >= 0, payload >= 0 else {
            throw ValidationError("counts and times must not be negative")
        }
    }

    func run() async {
        await Worker.perform("submit", common) { logger in
            let engine = try await Worker.openEngine(common.database, configuration: Worker.configuration(concurrency: 8), sqlite: Worker.sqlite(),
                logger: logger)
            let bytes = String(repeating: "x", count: payload)
            for i in 0..<count {
                switch job {
                case .crashWork: _ = try await engine.createTask(CrashWork.self, i, key: "\(keyPrefix)\(i)")
                case .filler: _ = try await engine.createTask(Filler.self, "\(i):\(bytes)", key: "\(keyPrefix)\(i)")
                }
                try appendLine("\(i)", to: ack)
                if delayMilliseconds > 0 { try await Task.sleep(for: .milliseconds(delayMilliseconds)) }
            }
            say("SUBMITTED \(count)")
        }
    }
}

/// `open`: prints "ready", waits until the `--go-file` exists (looking every
/// 0.1 ms), then opens the database (creating and migrating it if needed), closes
/// it and prints "opened": tests start several, then release them together.
struct Open: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Open the database once a go-file exists.")

    @OptionGroup var common: CommonOptions
    @Option(name: .customLong("go-file")) var goFile: String

    func run() async {
        await Worker.perform("open", common) { logger in
            say("ready")
            while !FileManager.default.fileExists(atPath: goFile) { usleep(100) }
            let engine = try await Worker.openEngine(common.database, configuration: Worker.configuration(concurrency: 8), sqlite: Worker.sqlite(),
                logger: logger)
            try engine.close()
            say("opened")
        }
    }
}
