import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// The processes of `durable run`'s lines, found by the environment every line
/// starts with (`DURABLE_RUNNER`, `DURABLE_DATABASE`, `DURABLE_TASK_ID`, which
/// the processes a line starts inherit), and stopped together.
///
/// On Linux the environment a process started with is in `/proc/<pid>/environ`,
/// readable for one's own processes: that finds a line's processes even after the
/// `durable` that started them was killed, and those that left the line's
/// process group. A process that started with an empty environment (`env -i`)
/// is not found. Elsewhere nothing is found.
enum LineProcesses {
    /// The processes (other than this one) whose environment holds every pair of
    /// `matches`.
    static func find(_ matches: [String: String]) -> [pid_t] {
        #if os(Linux)
            let wanted = matches.map { Array("\($0.key)=\($0.value)".utf8) }
            let own = getpid()
            guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return [] }
            return entries.compactMap { entry -> pid_t? in
                guard let pid = pid_t(entry), pid != own,
                    let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ")
                else { return nil }
                let variables = Set(environ.split(separator: 0).map { Array($0) })
                return wanted.allSatisfy { variables.contains($0) } ? pid : nil
            }
        #else
            return []
        #endif
    }

    /// Sends `signal` to each process and to its process group (unless that is
    /// this process's own group).
    static func signal(_ pids: [pid_t], _ signal: Int32) {
        let ownGroup = getpgrp()
        for pid in pids {
            let group = getpgid(pid)
            if group > 0, group != ownGroup { kill(-group, signal) }
            kill(pid, signal)
        }
    }

    /// Those of `pids` that still run (a zombie counts as gone).
    static func alive(_ pids: [pid_t]) -> [pid_t] {
        pids.filter { pid in
            guard kill(pid, 0) == 0 || errno == EPERM else { return false }
            #if os(Linux)
                guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                    let close = stat.lastIndex(of: ")")
                else { return false }
                return !stat[stat.index(after: close)...].hasPrefix(" Z")
            #else
                return true
            #endif
        }
    }

    /// Stops the processes matching `matches`: SIGTERM, then SIGKILL to those
    /// still there after `gracePeriod`; waits until they are gone, up to `timeout`
    /// after that. Returns those that were found, and those that survived.
    static func stop(
        _ matches: [String: String], gracePeriod: Duration, timeout: Duration = .seconds(10)
    ) -> (found: [pid_t], survivors: [pid_t]) {
        let found = find(matches)
        guard !found.isEmpty else { return ([], []) }
        signal(found, SIGTERM)
        var remaining = waitUntilGone(found, for: gracePeriod)
        if !remaining.isEmpty {
            // Processes started meanwhile by the survivors count too.
            remaining = Array(Set(remaining + find(matches)))
            signal(remaining, SIGKILL)
            remaining = waitUntilGone(remaining, for: timeout)
        }
        return (found, remaining)
    }

    private static func waitUntilGone(_ pids: [pid_t], for duration: Duration) -> [pid_t] {
        let deadline = ContinuousClock.now + duration
        var remaining = alive(pids)
        while !remaining.isEmpty, ContinuousClock.now < deadline {
            usleep(10_000)
            remaining = alive(remaining)
        }
        return remaining
    }
}
