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
/// 0.1 ms and doubles up to 25 ms, at a random point of each interval, until
/// `timeout` has passed. (Looking every millisecond or less throughout costs
/// eight contending processes a third of their throughput.)
enum LockWait {
    static let longestPause = 25_000

    static func busyMode(timeout: Duration) -> Database.BusyMode {
        let timeoutMicros = Int(timeout / .microseconds(1))
        return .callback { tries in
            guard waitedAtMost(tries: tries) < timeoutMicros else { return false }
            let cap = pause(afterTries: tries)
            usleep(useconds_t(Int.random(in: cap / 2...cap)))
            return true
        }
    }

    /// A lock timeout for messages: `60 s`, `1.5 s`, `300 ms`.
    static func describe(_ timeout: Duration) -> String {
        let milliseconds = Int64((timeout / .milliseconds(1)).rounded())
        guard milliseconds >= 1000 else { return "\(milliseconds) ms" }
        return milliseconds % 1000 == 0 ? "\(milliseconds / 1000) s" : String(format: "%.1f s", Double(milliseconds) / 1000)
    }

    /// The longest pause (µs) before the next look, after `tries` looks.
    static func pause(afterTries tries: Int) -> Int {
        min(longestPause, 100 << min(tries, 10))
    }

    /// An upper bound of the time (µs) spent waiting after `tries` looks.
    static func waitedAtMost(tries: Int) -> Int {
        let growing = min(tries, 9)
        let doubling = (0..<growing).reduce(0) { $0 + pause(afterTries: $1) }
        return doubling + max(0, tries - growing) * longestPause
    }
}

extension LockWait {
    /// Pauses between attempts of an operation that SQLite failed with
    /// `SQLITE_BUSY` or `SQLITE_LOCKED` without waiting (the busy handler is not
    /// called when waiting could deadlock, as when a statement that read must
    /// then write: `PRAGMA journal_mode = WAL` on a new file): the same growing
    /// pauses with jitter as the busy handler, until `timeout` has passed.
    struct Backoff {
        private let clock = ContinuousClock()
        private let deadline: ContinuousClock.Instant
        private var tries = 0

        init(timeout: Duration) {
            deadline = clock.now.advanced(by: timeout)
        }

        /// The pause before the next attempt, or `nil` once the timeout has passed.
        mutating func nextPause() -> Duration? {
            guard clock.now < deadline else { return nil }
            let cap = LockWait.pause(afterTries: tries)
            tries += 1
            return .microseconds(Int.random(in: cap / 2...cap))
        }
    }

    /// Runs `operation`, again after a pause (see ``Backoff``) each time it fails
    /// because another connection holds a lock, until `timeout` has passed; then
    /// its last error is thrown.
    static func retrying<T>(timeout: Duration, _ operation: () throws -> T) throws -> T {
        var backoff = Backoff(timeout: timeout)
        while true {
            do {
                return try operation()
            } catch let error as DatabaseError where error.isLockContention {
                guard let pause = backoff.nextPause() else { throw error }
                usleep(useconds_t(pause / .microseconds(1)))
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
