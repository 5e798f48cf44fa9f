import DurableTestKit
import Durable
import Foundation
import Testing

/// A worker whose store cannot be written: a real full disk (a small tmpfs
/// filled to the last byte; mounting needs root, as tests and CI have here).
@Suite("A full disk under a running worker", .serialized, .enabled(if: SmallFilesystem.canMount))
struct StoreFailureTests {
    @Test("the worker keeps retrying and reports it; waiters are told after the timeout; freed space stores everything")
    func diskFullWhileRunning() async throws {
        let directory = TemporaryDirectory()
        let disk = try SmallFilesystem(at: directory.file("disk"), megabytes: 16)
        let clock = ManualClock()
        let gates = Gates()
        var configuration = EngineConfiguration(clock: clock)
        configuration.gracefulShutdownTimeout = .zero
        configuration.storeFailureTimeout = .seconds(30)
        configuration.recoveryInterval = .seconds(86_400)
        configuration.leaseDuration = .seconds(86_400)
        let engine = try TaskEngine(path: disk.file("jobs.sqlite"), configuration: configuration, logger: testLogger)
        engine.register(GatedTriple(gates: gates))
        // Its result, three times its input, needs more new space than anything stored before.
        let input = String(repeating: "x", count: 1_000_000)

        try await engine.run { engine in
            let task = try await engine.createTask(GatedTriple.self, input)
            await gates.waitForArrivals("triple")
            #expect(engine.health == .healthy)
            disk.fill()
            gates.open("triple")

            try await poll("the worker reports that it cannot store") { engine.health != .healthy }
            guard case .storeFailing(_, let error) = engine.health else { return }
            #expect(error.code == .diskFull)
            #expect(error.message.contains(disk.file("jobs.sqlite")))

            // A waiter outside jobs is told once the timeout passes; new waits fail at once.
            let waiter = Task { try await task.value }
            clock.advance(by: .seconds(31))
            let told = await #expect(throws: DurableError.self) {
                try await withTimeout("the waiter is told", .seconds(60)) { try await waiter.value }
            }
            #expect(told?.code == .storeUnavailable)
            #expect(told?.message.contains("could not store its work for 30") == true)
            #expect(told?.message.contains("is full") == true)
            await #expect(throws: DurableError.self) {
                try await withTimeout("a new wait fails", .seconds(60)) { try await engine.gather([task]) }
            }
            #expect(try await task.status() == .running, "nothing was lost or changed")

            disk.free()
            try await poll("the worker stores what it finished") { engine.health == .healthy }
            #expect(try await withTimeout("the result", .seconds(60)) { try await task.value }.count == 3 * input.count)
        }
        try engine.close()
    }
}

extension StoreFailureTests {
    @Test("durable run on a full disk stops with exit 75 and a line naming the cause; run again, it finishes the batch")
    func durableRunOnFullDisk() async throws {
        let directory = TemporaryDirectory()
        let disk = try SmallFilesystem(at: directory.file("disk"), megabytes: 16)
        let database = disk.file("run.sqlite")
        let go = directory.file("go")
        // Two lines wait for the go file (saying so first); the others end at once.
        let gated = (1...2).map { n in
            "touch \(directory.file("started-\(n)")); while [ ! -e \(go) ]; do sleep 0.01; done; echo gated \(n)"
        }
        let quick = (1...10).map { "echo quick \($0)" }
        let commands = directory.file("commands.txt")
        try Data(((quick + gated).joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: commands))
        let arguments = ["run", commands, "--db", database, "-j", "4", "--store-timeout", "1s", "--quiet"]

        let first = try ChildProcess(
            "durable-run-1", executable: ChildProcess.durableExecutable(), arguments: arguments,
            output: directory.file("run-1.out"))
        try await poll("both gated lines run", child: first) {
            FileManager.default.fileExists(atPath: directory.file("started-1"))
                && FileManager.default.fileExists(atPath: directory.file("started-2"))
        }
        disk.fill()
        #expect(FileManager.default.createFile(atPath: go, contents: nil))
        let (status, signalled) = try await first.waitForExit(timeout: .seconds(120))
        let output = first.fullOutput
        #expect(!signalled && status == 75, "\(output)")
        #expect(output.contains("could not store its work for 1"), "\(output)")
        #expect(output.contains("\(database) is full"), "\(output)")
        #expect(output.contains("durable run: stopped; nothing stored is lost"), "\(output)")

        disk.free()
        let second = try ChildProcess(
            "durable-run-2", executable: ChildProcess.durableExecutable(), arguments: arguments,
            output: directory.file("run-2.out"))
        try await second.expectCleanExit(timeout: .seconds(120))
        let probe = try DatabaseProbe(path: database)
        defer { try? probe.close() }
        #expect(try probe.int("SELECT count(*) FROM tasks WHERE status = 'succeeded'") == 12)
        #expect(second.fullOutput.contains("12 succeeded, 0 failed"), "\(second.fullOutput)")
    }
}

/// Waits at the gate "triple", then returns its input three times.
private struct GatedTriple: Job {
    static let name = "gated-triple"
    let gates: Gates
    func run(_ input: String, context: TaskContext) async throws -> String {
        try await gates.pass("triple")
        return String(repeating: input, count: 3)
    }
}
