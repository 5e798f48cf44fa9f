import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import Testing

/// The one backoff schedule behind retries, lock waits and the worker's pauses,
/// and the injectable draw behind its jitter.
@Suite("Backoff")
struct BackoffTests {
    @Test("pauses grow by the multiplier up to the maximum, varied by the jitter around the middle draw")
    func schedule() {
        let backoff = Backoff(initial: .seconds(1), maximum: .seconds(5), multiplier: 2, jitter: 0.5)
        #expect((1...5).map { backoff.milliseconds(afterFailure: $0, unit: 0.5) } == [1000, 2000, 4000, 5000, 5000])
        #expect(backoff.milliseconds(afterFailure: 2, unit: 0) == 1000)
        #expect(backoff.milliseconds(afterFailure: 2, unit: 1) == 3000)
        #expect(backoff.milliseconds(afterFailure: 30, unit: 1, limit: 6000) == 6000)
        #expect(backoff.microseconds(afterFailure: 1, unit: 0.5) == 1_000_000)
        // Draws outside 0...1 are held at its ends.
        #expect(backoff.milliseconds(afterFailure: 1, unit: 7) == 1500)
    }

    @Test("a retry policy's delays are the backoff's, in milliseconds")
    func retryPolicy() {
        let policy = RetryPolicy(maxAttempts: 9, initialDelay: .milliseconds(300), maxDelay: .seconds(2), jitter: 0.2)
        for failures in 1...6 {
            for unit in [0.0, 0.25, 1.0] {
                #expect(
                    policy.delayMillisecondsForTest(afterFailure: failures, unit: unit)
                        == policy.backoff.milliseconds(afterFailure: failures, unit: unit))
            }
        }
        #expect(policy.delayMillisecondsForTest(afterFailure: 3, unit: 1) == 1440)
    }

    @Test("lock waits pause in the upper half of an interval doubling from 0.1 to 25 ms")
    func lockWaits() {
        let lowest = (1...12).map { LockWait.schedule.microseconds(afterFailure: $0, unit: 0) }
        let highest = (1...12).map { LockWait.schedule.microseconds(afterFailure: $0, unit: 1) }
        #expect(highest == [100, 200, 400, 800, 1600, 3200, 6400, 12_800, 25_000, 25_000, 25_000, 25_000])
        #expect(zip(lowest, highest).allSatisfy { $0 * 2 == $1 })
        #expect(LockWait.waitedAtMost(tries: 3) == 700)
    }

    @Test("the worker's pauses while its store fails double from 100 ms to 5 s")
    func storeFailurePauses() {
        let pauses = (1...8).map { Worker.storeFailureBackoff.milliseconds(afterFailure: $0, unit: 0.37) }
        #expect(pauses == [100, 200, 400, 800, 1600, 3200, 5000, 5000])
    }

    @Test("the retry jitter is drawn from the configured random source")
    func injectedJitter() async throws {
        let directory = TemporaryDirectory()
        let clock = ManualClock()
        let engine = try await makeTestEngine(in: directory) {
            $0.clock = clock
            $0.random = .constant(1)
        }
        let policy = RetryPolicy.exponentialJitter(maxAttempts: 3, initialDelay: .seconds(10), jitter: 0.5)
        try await engine.run { engine in
            let task = try await engine.createTask(Flaky.self, "j:5", options: TaskOptions(retry: policy))
            try await eventually("first failure stored") {
                let record = try await engine.record(of: task.id)
                return record.status == .pending && record.attempt == 1
            }
            // The highest draw: 10 s lengthened by half.
            #expect(try await engine.record(of: task.id).runAt == clock.now() + 15_000)
            try await engine.cancel(task.id)
        }
    }
}
