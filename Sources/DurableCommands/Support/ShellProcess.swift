import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Runs one `/bin/sh -c COMMAND` as a child process and keeps the last bytes of
/// what it writes to standard output and standard error.
///
/// The child gets its own process group, standard input from `/dev/null` and the
/// default disposition of every signal (the parent ignores SIGINT), so a Ctrl-C in
/// the terminal reaches `durable` but not the running commands. Cancelling the
/// calling Swift task stops the whole group: SIGTERM, then SIGKILL after
/// `killGracePeriod`; ``run(_:environment:tailLimit:killGracePeriod:)`` returns only
/// once the child has been reaped, so no line outlives its task unnoticed.
enum ShellProcess {
    /// How a command ended.
    struct Result: Sendable {
        /// The exit status, when the shell exited.
        var exitCode: Int32?
        /// The signal that ended the shell, when one did.
        var signal: Int32?
        /// From start to exit.
        var duration: Duration
        var standardOutput: OutputTail
        var standardError: OutputTail
        /// Whether the run was stopped because the calling task was cancelled.
        var stopped: Bool

        var succeeded: Bool { exitCode == 0 }
    }

    /// The last bytes a stream carried, and how many it carried in all.
    struct OutputTail: Sendable {
        var text: String
        var totalBytes: Int
    }

    /// Where every byte of the two streams goes besides the kept tails.
    struct Sinks: Sendable {
        var standardOutput: OutputSink
        var standardError: OutputSink
    }

    /// The command could not be started at all.
    struct LaunchError: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `command` with `/bin/sh -c`, in the current directory, with this
    /// process's environment plus `environment`.
    ///
    /// - Throws: `CancellationError` when the calling task was cancelled and the
    ///   command was stopped before it succeeded; ``LaunchError`` when it cannot start.
    static func run(
        _ command: String, environment: [String: String] = [:], tailLimit: Int = 8192,
        killGracePeriod: Duration = .seconds(2), sinks: Sinks? = nil
    ) async throws -> Result {
        try Task.checkCancellation()
        let child = try RunningChild.spawn(command, environment: environment, tailLimit: tailLimit, sinks: sinks)
        let result = await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in child.collect(into: continuation) }
        } onCancel: {
            child.stop(gracePeriod: killGracePeriod)
        }
        if result.stopped && !result.succeeded { throw CancellationError() }
        return result
    }
}

/// This process's environment, read once.
private let inheritedEnvironment = ProcessInfo.processInfo.environment

/// Serializes spawning; see ``RunningChild/spawn(_:environment:tailLimit:)``.
private let spawnLock = Mutex(())

/// A spawned child: its process group, its pipes, and whether it has been reaped
/// (after which its id is never signalled again, since it may be reused).
private final class RunningChild: Sendable {
    private struct State {
        var reaped = false
        var stopRequested = false
    }

    let pid: pid_t
    private let outputFD: Int32
    private let errorFD: Int32
    private let tailLimit: Int
    private let sinks: ShellProcess.Sinks?
    private let started: ContinuousClock.Instant
    private let state = Mutex(State())

    private init(
        pid: pid_t, outputFD: Int32, errorFD: Int32, tailLimit: Int, sinks: ShellProcess.Sinks?,
        started: ContinuousClock.Instant
    ) {
        self.pid = pid
        self.sinks = sinks
        self.started = started
        self.outputFD = outputFD
        self.errorFD = errorFD
        self.tailLimit = tailLimit
    }

    static func spawn(
        _ command: String, environment extra: [String: String], tailLimit: Int, sinks: ShellProcess.Sinks?
    ) throws -> RunningChild {
        // Pipes are made close-on-exec in two calls (pipe2 is not visible to
        // Swift); spawning one child at a time keeps another child from
        // inheriting this one's pipe in between.
        try spawnLock.withLock { _ in
            try spawnLocked(command, environment: extra, tailLimit: tailLimit, sinks: sinks)
        }
    }

    private static func spawnLocked(
        _ command: String, environment extra: [String: String], tailLimit: Int, sinks: ShellProcess.Sinks?
    ) throws -> RunningChild {
        let output = try makePipe()
        let error: (read: Int32, write: Int32)
        do {
            error = try makePipe()
        } catch {
            close(output.read)
            close(output.write)
            throw error
        }
        defer {
            close(output.write)
            close(error.write)
        }

        #if canImport(Darwin)
            var actions: posix_spawn_file_actions_t?
            var attributes: posix_spawnattr_t?
        #else
            var actions = posix_spawn_file_actions_t()
            var attributes = posix_spawnattr_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        posix_spawnattr_init(&attributes)
        defer {
            posix_spawn_file_actions_destroy(&actions)
            posix_spawnattr_destroy(&attributes)
        }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, output.write, 1)
        posix_spawn_file_actions_adddup2(&actions, error.write, 2)

        var flags = Int32(POSIX_SPAWN_SETPGROUP) | Int32(POSIX_SPAWN_SETSIGDEF) | Int32(POSIX_SPAWN_SETSIGMASK)
        #if canImport(Darwin)
            flags |= Int32(POSIX_SPAWN_CLOEXEC_DEFAULT)
        #endif
        posix_spawnattr_setflags(&attributes, Int16(flags))
        posix_spawnattr_setpgroup(&attributes, 0)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [
            SIGINT, SIGQUIT, SIGTERM, SIGHUP, SIGPIPE, SIGCHLD, SIGUSR1, SIGUSR2, SIGALRM, SIGTSTP, SIGTTIN, SIGTTOU,
        ] {
            sigaddset(&defaults, signal)
        }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)

        var environment = inheritedEnvironment
        environment.merge(extra) { _, new in new }
        let argumentList: [String] = ["/bin/sh", "-c", command]
        let arguments = argumentList.map { strdup($0) }
        let variables = environment.map { strdup("\($0.key)=\($0.value)") }
        defer {
            arguments.forEach { free($0) }
            variables.forEach { free($0) }
        }
        var pid: pid_t = 0
        let started = ContinuousClock.now
        let status = posix_spawn(&pid, "/bin/sh", &actions, &attributes, arguments + [nil], variables + [nil])
        guard status == 0 else {
            close(output.read)
            close(error.read)
            throw ShellProcess.LaunchError(description: "cannot start /bin/sh: \(String(cString: strerror(status)))")
        }
        return RunningChild(
            pid: pid, outputFD: output.read, errorFD: error.read, tailLimit: tailLimit, sinks: sinks,
            started: started)
    }

    private static func makePipe() throws -> (read: Int32, write: Int32) {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { throw pipeError() }
        for fd in fds { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
        return (fds[0], fds[1])
    }

    private static func pipeError() -> ShellProcess.LaunchError {
        ShellProcess.LaunchError(description: "cannot create a pipe: \(String(cString: strerror(errno)))")
    }

    /// Reads both pipes on a thread of its own until the child has exited and its
    /// output is drained, then resumes `continuation` (blocking reads must stay
    /// off the cooperative pool).
    func collect(into continuation: CheckedContinuation<ShellProcess.Result, Never>) {
        let thread = Thread { [self] in continuation.resume(returning: self.readUntilExit()) }
        thread.stackSize = 512 * 1024
        thread.start()
    }

    /// Stops the process group: SIGTERM now, SIGKILL after `gracePeriod`.
    func stop(gracePeriod: Duration) {
        state.withLock { $0.stopRequested = true }
        signalGroup(SIGTERM)
        let seconds = Double(gracePeriod.components.seconds) + Double(gracePeriod.components.attoseconds) / 1e18
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds) { [self] in
            self.signalGroup(SIGKILL)
        }
    }

    /// Signals the child's process group, unless the child has been reaped.
    private func signalGroup(_ signal: Int32) {
        state.withLock { state in
            guard !state.reaped else { return }
            kill(-pid, signal)
        }
    }

    private func readUntilExit() -> ShellProcess.Result {
        var output = TailBuffer(limit: tailLimit)
        var error = TailBuffer(limit: tailLimit)
        var fds = [
            pollfd(fd: outputFD, events: Int16(POLLIN), revents: 0),
            pollfd(fd: errorFD, events: Int16(POLLIN), revents: 0),
        ]
        var status: Int32?
        var drainUntil: ContinuousClock.Instant?
        let chunk = UnsafeMutableRawBufferPointer.allocate(byteCount: 65536, alignment: 1)
        defer { chunk.deallocate() }

        while fds.contains(where: { $0.fd >= 0 }) {
            // While the shell runs, look for its exit now and then: a background
            // process it started may keep the pipes open after it has exited.
            var timeout: Int32 = 50
            if let drainUntil {
                let left = drainUntil - ContinuousClock.now
                if left <= .zero { break }
                timeout = Int32(
                    max(1, left.components.seconds * 1000 + left.components.attoseconds / 1_000_000_000_000_000))
            }
            let ready = poll(&fds, nfds_t(fds.count), timeout)
            if ready < 0 && errno != EINTR { break }
            for index in fds.indices where fds[index].fd >= 0 && fds[index].revents != 0 {
                let count = read(fds[index].fd, chunk.baseAddress, chunk.count)
                if count > 0 {
                    let bytes = UnsafeRawBufferPointer(rebasing: chunk[0..<count])
                    if index == 0 {
                        output.append(bytes)
                        sinks?.standardOutput.write(bytes)
                    } else {
                        error.append(bytes)
                        sinks?.standardError.write(bytes)
                    }
                } else if count == 0 || (errno != EINTR && errno != EAGAIN) {
                    close(fds[index].fd)
                    fds[index].fd = -1
                }
            }
            if status == nil, let exited = reap(blocking: false) {
                status = exited
                drainUntil = ContinuousClock.now + .milliseconds(200)
            }
        }
        for entry in fds where entry.fd >= 0 { close(entry.fd) }
        sinks?.standardOutput.finish()
        sinks?.standardError.finish()
        let final = status ?? reap(blocking: true) ?? -1
        let duration = ContinuousClock.now - started
        let stopped = state.withLock { $0.stopRequested }
        let low = final & 0x7f
        return ShellProcess.Result(
            exitCode: low == 0 ? (final >> 8) & 0xff : nil,
            signal: low != 0 && low != 0x7f ? low : nil,
            duration: duration,
            standardOutput: output.tail, standardError: error.tail, stopped: stopped)
    }

    /// Reaps the child if it has exited (waiting for that when `blocking`) and
    /// returns its wait status. The child is marked reaped under the same lock
    /// that guards signalling it.
    private func reap(blocking: Bool) -> Int32? {
        if blocking {
            // Wait without reaping, so that the reap itself happens under the lock.
            var info = siginfo_t()
            while waitid(P_PID, id_t(pid), &info, WEXITED | WNOWAIT) != 0 {
                guard errno == EINTR else { break }
            }
        }
        return state.withLock { state -> Int32? in
            guard !state.reaped else { return nil }
            var status: Int32 = 0
            var result: pid_t
            repeat {
                result = waitpid(pid, &status, WNOHANG)
            } while result < 0 && errno == EINTR
            guard result == pid || result < 0 else { return nil }
            state.reaped = true
            // Reaped elsewhere (ECHILD): no status is known; -1 reads as neither
            // an exit nor a signal.
            return result == pid ? status : -1
        }
    }
}

/// The last `limit` bytes of a stream and its total length.
private struct TailBuffer {
    let limit: Int
    private var bytes: [UInt8] = []
    private(set) var total = 0

    init(limit: Int) {
        self.limit = max(0, limit)
    }

    mutating func append(_ data: UnsafeRawBufferPointer) {
        total += data.count
        guard limit > 0 else { return }
        bytes.append(contentsOf: data)
        if bytes.count > 2 * limit { bytes.removeFirst(bytes.count - limit) }
    }

    /// The kept bytes as text; a character cut in two at the start is dropped,
    /// other invalid UTF-8 becomes U+FFFD.
    var tail: ShellProcess.OutputTail {
        var kept = bytes.suffix(limit)
        if bytes.count > limit {
            while let first = kept.first, first & 0xC0 == 0x80 { kept.removeFirst() }
        }
        return ShellProcess.OutputTail(text: String(decoding: kept, as: UTF8.self), totalBytes: total)
    }
}
