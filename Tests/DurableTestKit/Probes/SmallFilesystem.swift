import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A small tmpfs mounted in a folder of the test's, to fill to the last byte:
/// a real full disk. Mounting needs root (tests and CI run as root here);
/// ``canMount`` tells whether this machine allows it. Unmounted when released.
///
/// ```swift
/// let disk = try SmallFilesystem(at: folder + "/disk", megabytes: 16)
/// let engine = try TaskEngine(path: disk.file("jobs.sqlite"))
/// disk.fill()   // every later write that needs a new block fails with ENOSPC
/// disk.free()
/// ```
public final class SmallFilesystem: Sendable {
    public let path: String
    private let fillers = FillerFiles()

    /// Mounts a tmpfs of `megabytes` at `path` (created if missing).
    public init(at path: String, megabytes: Int) throws {
        self.path = path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mounted = Self.run("mount", ["-t", "tmpfs", "-o", "size=\(megabytes)m", "tmpfs", path])
        guard mounted.status == 0 else {
            throw TestKitError("cannot mount a tmpfs at \(path): \(mounted.output)")
        }
    }

    /// Whether a tmpfs can be mounted here (root, and the mount command exists).
    public static let canMount: Bool = {
        let probe = FileManager.default.temporaryDirectory.path + "/durable-mount-probe-\(getpid())"
        guard let filesystem = try? SmallFilesystem(at: probe, megabytes: 1) else { return false }
        filesystem.unmount()
        try? FileManager.default.removeItem(atPath: probe)
        return true
    }()

    /// A path inside the filesystem.
    public func file(_ name: String) -> String { "\(path)/\(name)" }

    /// Writes a filler file until the filesystem has no block left.
    public func fill() {
        let filler = file("filler-\(fillers.count)")
        let fd = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard fd >= 0 else { return }
        defer { close(fd) }
        fillers.add(filler)
        for size in [64 * 1024, 4096, 1] {
            let chunk = [UInt8](repeating: 0, count: size)
            while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, size) }) == size {}
        }
    }

    /// Removes the filler files.
    public func free() {
        for filler in fillers.takeAll() { try? FileManager.default.removeItem(atPath: filler) }
    }

    /// Unmounts now (lazily: open files keep it alive until closed).
    public func unmount() {
        _ = Self.run("umount", ["-l", path])
    }

    deinit { unmount() }

    private static func run(_ command: String, _ arguments: [String]) -> (status: Int32, output: String) {
        guard let executable = findExecutable(["/usr/bin/\(command)", "/bin/\(command)"]) else {
            return (-1, "\(command) not found")
        }
        return runCommand(executable, arguments)
    }
}

/// The filler files written so far.
private final class FillerFiles: Sendable {
    private let paths = Mutex<[String]>([])
    var count: Int { paths.withLock { $0.count } }
    func add(_ path: String) { paths.withLock { $0.append(path) } }
    func takeAll() -> [String] { paths.withLock { paths in defer { paths = [] }; return paths } }
}
