import DurableTestKit
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A `DurableTestWorker run` child process (the root package's worker harness)
/// working on a shared database (a file, or a PostgreSQL schema).
public final class WorkerProcess: @unchecked Sendable {
    let process: Process
    let output: Pipe
    let readyFile: String

    /// The `DurableTestWorker` executable: `$DURABLE_TEST_WORKER` or
    /// `$DURABLE_BENCH_WORKER`, else the one beside this program (both are built
    /// into the same folder).
    public static func executable() throws -> String {
        do {
            return try WorkerExecutable.url().path
        } catch {
            throw BenchError(
                "\(error); build it with `swift build -c release --product DurableBench` in Benchmarks/")
        }
    }

    /// Starts `DurableTestWorker run` on `database` (a clean stop on SIGTERM gives
    /// running tasks 5 s; logs from warnings up go to standard error). It has not necessarily begun working
    /// yet: see ``waitUntilReady(timeout:)``.
    public init(
        database: BenchDatabase, durability: String, concurrency: Int, log: String? = nil, name: String = "worker"
    ) throws {
        readyFile = "\(database.scratchPrefix).\(name).\(UUID().uuidString.prefix(8)).ready"
        try? FileManager.default.removeItem(atPath: readyFile)
        process = Process()
        process.executableURL = URL(fileURLWithPath: try Self.executable())
        var arguments = [
            "run", database.description, "--sync", durability, "--concurrency", "\(concurrency)", "--ready", readyFile,
            "--shutdown-timeout-ms", "5000", "--log-level", "warning",
        ]
        if let log { arguments += ["--log", log] }
        process.arguments = arguments
        output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.standardError
        try process.run()
    }

    public var pid: Int32 { process.processIdentifier }

    /// Waits until the worker has opened the database and started its worker loop.
    public func waitUntilReady(timeout: Duration = .seconds(30)) async throws {
        let deadline = ContinuousClock.now + timeout
        while !FileManager.default.fileExists(atPath: readyFile) {
            guard process.isRunning else { throw BenchError("DurableTestWorker \(pid) exited before it was ready") }
            guard ContinuousClock.now < deadline else { throw BenchError("DurableTestWorker \(pid) not ready in \(timeout)") }
            try await Task.sleep(for: .milliseconds(1))
        }
    }

    /// Asks the worker to stop (SIGTERM: it hands back running tasks and exits)
    /// and returns how many tasks it ran, from its last output line.
    @discardableResult
    public func stop() -> Int? {
        // A SIGTERM that arrives while the worker is still installing its handler
        // is lost: repeat it every second, and SIGKILL after 30 s.
        var signals = 0
        while process.isRunning {
            kill(pid, signals < 30 ? SIGTERM : SIGKILL)
            signals += 1
            for _ in 0..<100 where process.isRunning { usleep(10_000) }
        }
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: readyFile)
        let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
        guard let last = lines.last(where: { $0.hasPrefix("{") }),
            let object = try? JSONSerialization.jsonObject(with: Data(last.utf8)) as? [String: Any]
        else { return nil }
        return object["runs"] as? Int
    }

    /// kill -9.
    public func kill9() {
        kill(pid, SIGKILL)
        process.waitUntilExit()
        try? FileManager.default.removeItem(atPath: readyFile)
    }
}

extension WorkerProcess {
    /// Stores `n` pending no-op tasks in `database` (fresh) with
    /// `DurableTestWorker seed` (a child process, so that this process's memory is not touched).
    public static func seed(_ database: BenchDatabase, n: Int) throws {
        let seed = Process()
        seed.executableURL = URL(fileURLWithPath: try executable())
        seed.arguments = ["seed", database.description, "--count", "\(n)", "--sync", "NORMAL"]
        seed.standardOutput = FileHandle.standardError
        try seed.run()
        seed.waitUntilExit()
        guard seed.terminationStatus == 0 else { throw BenchError("DurableTestWorker seed failed for \(database)") }
    }

    /// A file with `n` pending no-op tasks, kept in ``benchDirectory`` across runs
    /// and built again when missing or older than the `DurableTestWorker` executable (a
    /// rebuilt library may have changed the schema). Copy it before use.
    public static func cachedSeed(n: Int) throws -> String {
        let path = "\(benchDirectory)/seed-\(n)-pending.sqlite"
        try FileManager.default.createDirectory(atPath: benchDirectory, withIntermediateDirectories: true)
        let manager = FileManager.default
        let seeded = (try? manager.attributesOfItem(atPath: path)[.modificationDate] as? Date) ?? .distantPast
        let built = (try? manager.attributesOfItem(atPath: executable())[.modificationDate] as? Date) ?? .distantFuture
        if seeded < built {
            removeDatabase(at: path)
            try seed(.sqlite(path: path), n: n)
        }
        return path
    }
}
