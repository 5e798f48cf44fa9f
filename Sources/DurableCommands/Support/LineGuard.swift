import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Makes sure no line of a `durable run` outlives it: starts `durable guard-lines`
/// (``GuardLinesCommand``) with a pipe whose write end only this process holds.
/// However this process ends — even SIGKILL — the pipe closes and the guard stops
/// every process carrying this run's `DURABLE_RUNNER` id.
///
/// Start it before any line runs: the pipe is made close-on-exec right after it is
/// created, and a line spawned in between would keep the guard waiting.
struct LineGuard: Sendable {
    /// The id every line of this run carries in `DURABLE_RUNNER`.
    let runnerID: String
    let pid: pid_t

    /// Starts the guard of the lines carrying `runnerID`; `gracePeriod` is what it
    /// leaves them between SIGTERM and SIGKILL.
    static func start(runnerID: String, gracePeriod: Duration) throws -> LineGuard {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw failure("create a pipe") }
        let (readEnd, writeEnd) = (fds[0], fds[1])
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        defer { close(readEnd) }

        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t?
        #else
            var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, readEnd, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        let executable = ownExecutable()
        let milliseconds =
            gracePeriod.components.seconds * 1000 + gracePeriod.components.attoseconds / 1_000_000_000_000_000
        let arguments: [String] = [executable, "guard-lines", "--runner", runnerID, "--grace-ms", "\(milliseconds)"]
        let argv = arguments.map { strdup($0) }
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, nil, argv + [nil], environ)
        guard status == 0 else {
            close(writeEnd)
            throw failure("start \(executable) guard-lines", code: status)
        }
        // The write end stays open (close-on-exec) until this process ends.
        return LineGuard(runnerID: runnerID, pid: pid)
    }

    /// This program's path.
    private static func ownExecutable() -> String {
        #if os(Linux)
            if let path = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") { return path }
        #endif
        return URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path
    }

    private static func failure(_ action: String, code: Int32 = errno) -> any Error {
        CommandError("cannot \(action): \(String(cString: strerror(code)))")
    }
}
