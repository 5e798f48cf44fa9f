import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import Testing

/// Durations and dates a user passes to the library that cannot be stored as
/// Unix milliseconds (or added to the current time) are refused with an error
/// naming the option, and nothing is stored; none traps the process.
@Suite("Durations and dates out of range")
struct DurationLimitTests {
    private static let huge = Duration.seconds(Int64.max)
    private static let farFuture = Date(timeIntervalSince1970: 1e300)
    private static let notADate = Date(timeIntervalSince1970: .nan)

    /// Runs `body`, which must throw `invalidArgument` with a message naming `option`.
    private func expectRefused(
        _ option: String, sourceLocation: SourceLocation = #_sourceLocation, _ body: () async throws -> Void
    ) async {
        do {
            try await body()
            Issue.record("\(option): expected invalidArgument, nothing was thrown", sourceLocation: sourceLocation)
        } catch let error as DurableError {
            #expect(error.code == .invalidArgument, "\(error)", sourceLocation: sourceLocation)
            #expect(error.message.contains(option), "\(error.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("\(option): expected a DurableError, got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test("TaskOptions: an overflowing delay, timeout, runAt, deadline or retry delay is refused, and nothing stored")
    func taskOptions() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let refused: [(String, TaskOptions)] = [
            ("TaskOptions.delay", TaskOptions(delay: Self.huge)),
            ("TaskOptions.timeout", TaskOptions(timeout: Self.huge)),
            ("TaskOptions.timeout", TaskOptions(timeout: .zero)),
            ("TaskOptions.timeout", TaskOptions(timeout: .seconds(-5))),
            ("TaskOptions.runAt", TaskOptions(runAt: Self.farFuture)),
            ("TaskOptions.runAt", TaskOptions(runAt: Self.notADate)),
            ("TaskOptions.runAt", TaskOptions(runAt: Date(timeIntervalSince1970: -.infinity))),
            ("TaskOptions.deadline", TaskOptions(deadline: Self.farFuture)),
            ("TaskOptions.deadline", TaskOptions(deadline: Self.notADate)),
            ("TaskOptions.retry.initialDelay", TaskOptions(retry: .exponentialJitter(maxAttempts: 3, initialDelay: Self.huge))),
            ("TaskOptions.retry.maxDelay", TaskOptions(retry: .exponentialJitter(maxAttempts: 3, maxDelay: Self.huge))),
        ]
        for (option, options) in refused {
            await expectRefused(option) { _ = try await engine.createTask(Echo.self, "x", options: options) }
            // In a batch, the good request is not stored either.
            await expectRefused(option) {
                _ = try await engine.createTasks(Echo.self, [TaskRequest("good"), TaskRequest("bad", options: options)])
            }
        }
        #expect(try await engine.tasks(matching: TaskQuery()).isEmpty)

        // The far ends that are still fine: Foundation's distant dates, and ten years.
        let fine = try await engine.createTask(
            Echo.self, "fine",
            options: TaskOptions(
                delay: .seconds(10 * 365 * 86_400), timeout: .seconds(86_400), deadline: .distantFuture))
        let early = try await engine.createTask(Echo.self, "early", options: TaskOptions(runAt: .distantPast))
        #expect(try await engine.record(of: fine.id).deadline == Int64(Date.distantFuture.timeIntervalSince1970 * 1000))
        #expect(try await engine.record(of: early.id).runAt == Int64(Date.distantPast.timeIntervalSince1970 * 1000))
    }

    @Test("EngineConfiguration: each overflowing duration is refused when the engine opens, and no file is created", .enabled(if: TestStore.isSQLite, "SQLite only: the file itself"))
    func engineConfiguration() async throws {
        let directory = TemporaryDirectory()
        let settings: [(String, (inout EngineConfiguration) -> Void)] = [
            ("EngineConfiguration.leaseDuration", { $0.leaseDuration = Self.huge }),
            ("EngineConfiguration.leaseDuration", { $0.leaseDuration = .zero }),
            ("EngineConfiguration.heartbeatInterval", { $0.heartbeatInterval = Self.huge }),
            ("EngineConfiguration.heartbeatInterval", { $0.heartbeatInterval = .seconds(-1) }),
            ("EngineConfiguration.recoveryInterval", { $0.recoveryInterval = Self.huge }),
            ("EngineConfiguration.recoveryInterval", { $0.recoveryInterval = .zero }),
            ("EngineConfiguration.gracefulShutdownTimeout", { $0.gracefulShutdownTimeout = Self.huge }),
            ("EngineConfiguration.sleepSuspendThreshold", { $0.sleepSuspendThreshold = Self.huge }),
        ]
        for (option, configure) in settings {
            await expectRefused(option) { _ = try await makeTestEngine(in: directory, file: "config.sqlite", configure: configure) }
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("config.sqlite")))
        let sqliteSettings: [(String, (inout SQLiteConfiguration) -> Void)] = [
            ("SQLiteConfiguration.lockTimeout", { $0.lockTimeout = Self.huge }),
            ("SQLiteConfiguration.changePollInterval", { $0.changePollInterval = Self.huge }),
            ("SQLiteConfiguration.changePollInterval", { $0.changePollInterval = .zero }),
        ]
        for (option, configure) in sqliteSettings {
            await expectRefused(option) { _ = try await makeTestEngine(in: directory, file: "config.sqlite", sqlite: configure) }
        }
        #expect(!FileManager.default.fileExists(atPath: directory.file("config.sqlite")))
    }

    @Test("the SQLite fields EngineConfiguration still forwards reach the store when no SQLiteConfiguration is given")
    func forwardedSQLiteSettings() {
        var configuration = EngineConfiguration()
        configuration.sqliteSettings.durability = .processCrashSafe
        configuration.sqliteSettings.lockTimeout = .seconds(7)
        configuration.sqliteSettings.changePollInterval = .milliseconds(3)
        let sqlite = SQLiteConfiguration(configuration)
        #expect(sqlite.durability == .processCrashSafe)
        #expect(sqlite.lockTimeout == .seconds(7))
        #expect(sqlite.changePollInterval == .milliseconds(3))
        #expect(SQLiteConfiguration(EngineConfiguration()) == SQLiteConfiguration())
    }

    @Test("long intervals and timeouts that are accepted run without trapping")
    func longAcceptedSettings() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(
            in: directory, configure: { $0.recoveryInterval = .seconds(100 * 365 * 86_400) },
            sqlite: {
                $0.changePollInterval = .seconds(2 * 3600)
                $0.lockTimeout = .seconds(100 * 365 * 86_400)
            })
        let result = try await engine.run { engine in
            try await engine.waitFor(
                try await engine.createTask(Echo.self, "long", options: TaskOptions(timeout: .seconds(9_000 * 365 * 86_400))),
                timeout: .seconds(9_000 * 365 * 86_400))
        }
        #expect(result == "long")
    }

    @Test("waitFor, wait and asCompleted refuse an overflowing timeout without cancelling the task")
    func awaitingTimeouts() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Echo.self, "waiting")
        await expectRefused("waitFor") { _ = try await engine.waitFor(task, timeout: Self.huge) }
        await expectRefused("wait") { _ = try await engine.wait([task], timeout: Self.huge) }
        await expectRefused("asCompleted") {
            for try await _ in engine.asCompleted([task], timeout: Self.huge) {}
        }
        let record = try await engine.record(of: task.id)
        #expect(record.status == .pending)
        #expect(record.cancelMessage == nil)
    }

    @Test("prune and the task query refuse dates out of range")
    func inspectionDates() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        let task = try await engine.createTask(Echo.self, "kept")
        _ = try await task.cancel()
        await expectRefused("prune") { _ = try await engine.prune(finishedBefore: Self.farFuture) }
        await expectRefused("prune") { _ = try await engine.prune(finishedBefore: Self.notADate) }
        await expectRefused("TaskQuery.createdSince") {
            _ = try await engine.tasks(matching: TaskQuery(createdSince: Self.notADate))
        }
        await expectRefused("TaskQuery.createdSince") {
            _ = try await engine.tasks(matching: TaskQuery(createdSince: Date(timeIntervalSince1970: -1e300)))
        }
        await expectRefused("TaskQuery.createdBefore") {
            _ = try await engine.tasks(matching: TaskQuery(createdBefore: Date(timeIntervalSince1970: 1e300)))
        }
        await expectRefused("TaskQuery.createdBefore") {
            _ = try await engine.tasks(matching: TaskQuery(createdBefore: Self.notADate))
        }
        #expect(try await engine.tasks(matching: TaskQuery()).map(\.id) == [task.id])
    }

    @Test("a durable sleep with an overflowing duration or date throws in the job, and no sleep is stored")
    func durableSleep() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        engine.register(SleepsTooLong())
        try await engine.run { engine async throws -> Void in
            let tasks = try await engine.createTasks(SleepsTooLong.self, inputs: ["for", "until", "until-nan"])
            let messages = try await engine.gather(tasks)
            #expect(messages[0].hasPrefix("invalid_argument:") && messages[0].contains("sleep(for:)"), "\(messages[0])")
            #expect(messages[1].hasPrefix("invalid_argument:") && messages[1].contains("sleep(until:)"), "\(messages[1])")
            #expect(messages[2].hasPrefix("invalid_argument:") && messages[2].contains("sleep(until:)"), "\(messages[2])")
            for task in tasks { #expect(try await engine.steps(of: task.id).isEmpty) }
        }
    }

    @Test("beginShutdown with an overflowing grace period waits for the running task, as with no limit")
    func shutdownGracePeriod() async throws {
        let directory = TemporaryDirectory()
        let gates = Gates()
        let engine = try await makeTestEngine(in: directory, gates: gates)
        let worker = Task { try await engine.run() }
        let task = try await engine.createTask(WaitAtGate.self, "grace")
        await gates.waitForArrivals("grace")
        #expect(engine.beginShutdown(gracePeriod: Self.huge))
        gates.open("grace")
        try await worker.value
        // Not handed back as pending: the task had all the time it needed.
        #expect(try await task.result() == "grace")
    }
}

/// Sleeps durably far too long (by duration, date, or a NaN date) and returns
/// the error it got as `code: message`.
struct SleepsTooLong: Job {
    static let name = "sleeps-too-long"
    func run(_ how: String, context: TaskContext) async throws -> String {
        do {
            switch how {
            case "for": try await context.sleep(for: .seconds(Int64.max))
            case "until": try await context.sleep(until: Date(timeIntervalSince1970: 1e300))
            default: try await context.sleep(until: Date(timeIntervalSince1970: .nan))
            }
            return "slept"
        } catch let error as DurableError {
            return "\(error.code): \(error.message)"
        }
    }
}
