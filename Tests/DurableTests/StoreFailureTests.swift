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

/// Waits at the gate "triple", then returns its input three times.
private struct GatedTriple: Job {
    static let name = "gated-triple"
    let gates: Gates
    func run(_ input: String, context: TaskContext) async throws -> String {
        try await gates.pass("triple")
        return String(repeating: input, count: 3)
    }
}
