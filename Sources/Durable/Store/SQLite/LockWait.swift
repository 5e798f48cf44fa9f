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
