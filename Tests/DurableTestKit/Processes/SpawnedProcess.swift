import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A program started with `posix_spawn`, for the tests and the torture suite.
///
/// Foundation's `Process.run()` on Linux lists `/proc/self/fd` in a way that
/// over-reads glibc's buffer and crashes now and then in processes with many open
/// files (swift-corelibs-foundation #5472, in Swift 6.3.1): a test process full
/// of database connections that starts hundreds of children met it. This starts
/// them without Foundation: standard input from a file (or `/dev/null`), output
/// to files, every other descriptor closed in the child, and the exit reaped with
/// `waitpid` without blocking.
///
/// ```swift
/// let child = try SpawnedProcess("/bin/echo", ["hi"], output: "/tmp/echo.out")
/// let (status, signalled) = try await child.waitForExit(timeout: .seconds(10))
/// ```
public final class SpawnedProcess: Sendable {
    public let pid: Int32
    private let ending = Mutex<(status: Int32, signalled: Bool)?>(nil)

    /// Starts `executable` with `arguments`. `environment` replaces this process's
    /// (`nil`: inherit it); `input` is a file read as standard input; standard
    /// output goes to `output` and standard error to `error` (`nil`: the same file).
    public init(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        workingDirectory: String? = nil, input: String = "/dev/null", output: String, error: String? = nil
    ) throws {
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
        let create = O_WRONLY | O_CREAT | O_TRUNC
        posix_spawn_file_actions_addopen(&actions, 0, input, O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, create, 0o644)
        if let error {
            posix_spawn_file_actions_addopen(&actions, 2, error, create, 0o644)
        } else {
            posix_spawn_file_actions_adddup2(&actions, 1, 2)
        }
        try Self.closeOthers(&actions)
        if let workingDirectory { try Self.changeDirectory(&actions, to: workingDirectory) }
        // The child starts with default signal handling and nothing blocked.
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK))
        var defaults = sigset_t()
        sigfillset(&defaults)
        sigdelset(&defaults, SIGKILL)
        sigdelset(&defaults, SIGSTOP)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        var mask = sigset_t()
        sigemptyset(&mask)
        posix_spawnattr_setsigmask(&attributes, &mask)

        let variables = (environment ?? ProcessInfo.processInfo.environment).map { "\($0.key)=\($0.value)" }
        let argv = ([executable] + arguments).map { strdup($0) }
        let envp = variables.map { strdup($0) }
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let status = posix_spawn(&pid, executable, &actions, &attributes, argv + [nil], envp + [nil])
        guard status == 0 else {
            throw TestKitError("cannot start \(executable): \(String(cString: strerror(status)))")
        }
        self.pid = pid
    }

    deinit {
        if isRunning {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            _ = waitpid(pid, &status, 0)
        }
    }

    /// Whether the child still runs; reaps it (without blocking) once it ended.
    public var isRunning: Bool { endingIfExited() == nil }

    /// How the child ended, once it has: its exit status, or the signal that
    /// killed it.
    public var termination: (status: Int32, signalled: Bool)? { endingIfExited() }

    /// Sends `signal` to the child, unless it was reaped already.
    public func signal(_ signal: Int32) {
        if isRunning { kill(pid, signal) }
    }

    /// Waits (polling, so that no thread blocks) until the child ended and was
    /// reaped.
    @discardableResult
    public func waitForExit(timeout: Duration = .seconds(90)) async throws -> (status: Int32, signalled: Bool) {
        let deadline = ContinuousClock.now + timeout
        while true {
            if let ending = endingIfExited() { return ending }
            guard ContinuousClock.now < deadline else {
                throw TestKitError("pid \(pid) did not exit within \(timeout)")
            }
            try await Task.sleep(for: .milliseconds(2))
        }
    }

    /// How a program run to its end ended, and what it wrote.
    public struct Finished: Sendable {
        public var status: Int32
        public var signalled: Bool
        public var standardOutput: String
        /// Empty when standard error went with standard output.
        public var standardError: String
    }

    /// Runs `executable` to its end, with standard error in `standardError`
    /// unless `mergingErrors`. Waiting polls (see ``waitForExit(timeout:)``):
    /// the tests run on a cooperative pool as wide as the machine has cores, and
    /// two tests blocked in `waitpid` on a 2-core machine stalled every other
    /// test (and made timeouts elsewhere fire) until their children ended.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil,
        workingDirectory: String? = nil, input: String = "/dev/null", mergingErrors: Bool = true,
        timeout: Duration = .seconds(120)
    ) async throws -> Finished {
        let files = CapturedOutput(mergingErrors: mergingErrors)
        defer { files.remove() }
        let child = try SpawnedProcess(
            executable, arguments, environment: environment, workingDirectory: workingDirectory, input: input,
            output: files.output, error: files.error)
        do {
            return files.finished(try await child.waitForExit(timeout: timeout))
        } catch {
            child.signal(SIGKILL)
            throw error
        }
    }

    /// Runs `executable` to its end, blocking this thread: only for commands
    /// that end within milliseconds (`ip`, `chattr`) where no `await` is
    /// possible (a `deinit`).
    public static func runBlocking(_ executable: String, _ arguments: [String], mergingErrors: Bool = true) throws
        -> Finished
    {
        let files = CapturedOutput(mergingErrors: mergingErrors)
        defer { files.remove() }
        let child = try SpawnedProcess(executable, arguments, output: files.output, error: files.error)
        var status: Int32 = 0
        while waitpid(child.pid, &status, 0) < 0, errno == EINTR {}
        let ending = decode(status)
        child.ending.withLock { $0 = ending }
        return files.finished(ending)
    }

    /// Two temporary files for a child's standard output and error.
    private struct CapturedOutput {
        let output: String
        let error: String?

        init(mergingErrors: Bool) {
            let base = FileManager.default.temporaryDirectory.path + "/durable-spawn-\(UUID().uuidString)"
            output = base + ".out"
            error = mergingErrors ? nil : base + ".err"
        }

        func finished(_ ending: (status: Int32, signalled: Bool)) -> Finished {
            let read = { (path: String?) in path.flatMap { try? String(contentsOfFile: $0, encoding: .utf8) } ?? "" }
            return Finished(
                status: ending.status, signalled: ending.signalled, standardOutput: read(output),
                standardError: read(error))
        }

        func remove() {
            for path in [output, error].compactMap({ $0 }) { try? FileManager.default.removeItem(atPath: path) }
        }
    }

    private func endingIfExited() -> (status: Int32, signalled: Bool)? {
        ending.withLock { ending in
            if let ending { return ending }
            var status: Int32 = 0
            let reaped = waitpid(pid, &status, WNOHANG)
            guard reaped == pid else { return nil }
            ending = Self.decode(status)
            return ending
        }
    }

    private static func decode(_ status: Int32) -> (status: Int32, signalled: Bool) {
        let signal = status & 0x7f
        return signal == 0 ? ((status >> 8) & 0xff, false) : (signal, true)
    }

    private typealias FileActions = UnsafeMutablePointer<posix_spawn_file_actions_t>

    /// Closes every descriptor from 3 up in the child
    /// (`posix_spawn_file_actions_addclosefrom_np`, glibc 2.34 and later).
    private static func closeOthers(_ actions: FileActions) throws {
        typealias CloseFrom = @convention(c) (FileActions, Int32) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addclosefrom_np")
        else { throw TestKitError("this C library lacks posix_spawn_file_actions_addclosefrom_np") }
        let closeFrom = unsafeBitCast(symbol, to: CloseFrom.self)
        let status = closeFrom(actions, 3)
        guard status == 0 else { throw TestKitError("addclosefrom failed: \(String(cString: strerror(status)))") }
    }

    /// Starts the child in `directory` (`posix_spawn_file_actions_addchdir_np`,
    /// glibc 2.29 and later).
    private static func changeDirectory(_ actions: FileActions, to directory: String) throws {
        typealias ChangeDirectory = @convention(c) (FileActions, UnsafePointer<CChar>) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "posix_spawn_file_actions_addchdir_np")
        else { throw TestKitError("this C library lacks posix_spawn_file_actions_addchdir_np") }
        let changeDirectory = unsafeBitCast(symbol, to: ChangeDirectory.self)
        let status = directory.withCString { changeDirectory(actions, $0) }
        guard status == 0 else { throw TestKitError("addchdir failed: \(String(cString: strerror(status)))") }
    }
}
