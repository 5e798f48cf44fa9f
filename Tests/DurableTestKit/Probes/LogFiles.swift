import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

// Execution logs: files that workers append one line to per body of work, and
// that tests, the torture suite and the benchmarks count.

/// Appends `line` and a newline to `path` with one O_APPEND write: lines of
/// concurrent writers (tasks, processes) never interleave, and after a SIGKILL a
/// line is either whole or absent.
public func appendLine(_ line: String, to path: String) throws {
    let bytes = Array((line + "\n").utf8)
    let fd = open(path, O_WRONLY | O_APPEND | O_CREAT, 0o644)
    guard fd >= 0 else { throw TestKitError("cannot open \(path) for appending: errno \(errno)") }
    defer { close(fd) }
    let written = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == bytes.count else {
        throw TestKitError("short write to \(path): \(written) of \(bytes.count) bytes (errno \(errno))")
    }
}

/// The lines of a file (an execution or acknowledgement log); a missing file has none.
public func lines(of path: String) throws -> [String] {
    guard FileManager.default.fileExists(atPath: path) else { return [] }
    return try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map(String.init)
}

/// How often each line appears in a file written with `appendLine`.
public func countLines(of path: String) throws -> [String: Int] {
    var counts: [String: Int] = [:]
    for line in try lines(of: path) { counts[line, default: 0] += 1 }
    return counts
}

/// How often each integer appears in a file with one per line.
public func lineCounts(of path: String) throws -> [Int: Int] {
    var counts: [Int: Int] = [:]
    for line in try lines(of: path) {
        guard let value = Int(line) else {
            throw TestKitError("\(path) has a line that is not a number: \(line)")
        }
        counts[value, default: 0] += 1
    }
    return counts
}

/// Nanoseconds of CLOCK_MONOTONIC, comparable between processes of one machine.
public func monotonicNanoseconds() -> UInt64 {
    var spec = timespec()
    clock_gettime(CLOCK_MONOTONIC, &spec)
    return UInt64(spec.tv_sec) * 1_000_000_000 + UInt64(spec.tv_nsec)
}
