import DurableEngine
import Foundation
import GRDB

/// How a connection waits for a lock that another connection holds.
///
/// SQLite's own busy timeout sleeps longer and longer between looks, up to
/// 100 ms, always the same steps. Against writers that commit back to back
/// (other worker processes under load), the write lock is free only for brief
/// moments, and a waiter that looks ten times a second, in step with the
/// others' commits, can miss all of them for as long as its timeout (seen: a
/// worker process that claimed nothing for a minute). This one starts at
/// 0.1 ms and doubles up to 25 ms, at a random point of the upper half of each
/// interval (`schedule`), until `timeout` has passed. (Looking every
/// millisecond or less throughout costs eight contending processes a third of
/// their throughput.)
enum LockWait {
    /// Pauses from 50-100 µs, doubling up to 12.5-25 ms.
    static let schedule = Backoff(
        initial: .microseconds(75), maximum: .microseconds(18_750), multiplier: 2, jitter: 1.0 / 3)

    static func busyMode(timeout: Duration, random: RandomUnit = .system) -> Database.BusyMode {
        let timeoutMicros = timeout.wholeMicroseconds
        return .callback { tries in
            guard waitedAtMost(tries: tries) < timeoutMicros else { return false }
            usleep(useconds_t(clamping: schedule.microseconds(afterFailure: tries + 1, unit: random.next())))
            return true
        }
    }

    /// A lock timeout for messages: `60 s`, `1.5 s`, `300 ms`.
    static func describe(_ timeout: Duration) -> String {
        let milliseconds = Int64((timeout / .milliseconds(1)).rounded())
        guard milliseconds >= 1000 else { return "\(milliseconds) ms" }
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : String(format: "%.1f s", Double(milliseconds) / 1000)
    }

    /// An upper bound of the time (µs) spent waiting after `tries` looks.
    static func waitedAtMost(tries: Int) -> Int64 {
        (0..<tries).reduce(0) { $0 + schedule.microseconds(afterFailure: $1 + 1, unit: 1) }
    }
}

extension LockWait {
    /// Pauses between attempts of an operation that SQLite failed with
    /// `SQLITE_BUSY` or `SQLITE_LOCKED` without waiting (the busy handler is not
    /// called when waiting could deadlock, as when a statement that read must
    /// then write: `PRAGMA journal_mode = WAL` on a new file): the same growing
    /// pauses with jitter as the busy handler, until `timeout` has passed.
    struct Deadline {
        private let clock = ContinuousClock()
        private let deadline: ContinuousClock.Instant
        private let random: RandomUnit
        private var tries = 0

        init(timeout: Duration, random: RandomUnit = .system) {
            deadline = clock.now.advanced(by: timeout)
            self.random = random
        }

        /// The pause before the next attempt, or `nil` once the timeout has passed.
        mutating func nextPause() -> Duration? {
            guard clock.now < deadline else { return nil }
            tries += 1
            return schedule.pause(afterFailure: tries, unit: random.next())
        }
    }

    /// Runs `operation`, again after a pause (see ``Deadline``) each time it fails
    /// because another connection holds a lock, until `timeout` has passed; then
    /// its last error is thrown.
    static func retrying<T>(timeout: Duration, _ operation: () throws -> T) throws -> T {
        var backoff = Deadline(timeout: timeout)
        while true {
            do {
                return try operation()
            } catch let error as DatabaseError where error.isLockContention {
                guard let pause = backoff.nextPause() else { throw error }
                usleep(useconds_t(clamping: pause.wholeMicroseconds))
            }
        }
    }
}

extension DatabaseError {
    /// Whether another connection held a lock this one needed.
    var isLockContention: Bool {
        resultCode.primaryResultCode == .SQLITE_BUSY || resultCode.primaryResultCode == .SQLITE_LOCKED
    }
}
