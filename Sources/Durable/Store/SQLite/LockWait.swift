import Foundation
import GRDB

/// How a connection waits for a lock that another connection holds.
///
/// SQLite's own busy timeout sleeps longer and longer between tries, up to
/// 100 ms. Against writers that commit back to back (other worker processes
/// under load), the write lock is free only for brief moments, and a waiter
/// that looks ten times a second can miss all of them for as long as its
/// timeout. This one looks again every 0.1 to 0.9 ms, at random so as not to
/// fall into step with the other writers, until `timeout` has passed.
enum LockWait {
    static func busyMode(timeout: Duration) -> Database.BusyMode {
        let averagePause = Duration.microseconds(500)
        let maximumTries = max(1, Int(timeout / averagePause))
        return .callback { tries in
            guard tries < maximumTries else { return false }
            usleep(useconds_t.random(in: 100...900))
            return true
        }
    }
}
