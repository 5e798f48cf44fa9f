public import Durable
import Foundation

/// Where benchmark databases go: `$DURABLE_BENCH_DIR`, default `/tmp/durable-bench`.
public var benchDirectory: String {
    ProcessInfo.processInfo.environment["DURABLE_BENCH_DIR"] ?? "/tmp/durable-bench"
}

/// A path in ``benchDirectory`` with no database, journal or WAL left from before.
public func freshPath(_ name: String) throws -> String {
    try FileManager.default.createDirectory(atPath: benchDirectory, withIntermediateDirectories: true)
    let path = "\(benchDirectory)/\(name)"
    removeDatabase(at: path)
    return path
}

/// Removes a database file and its companions.
public func removeDatabase(at path: String) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        try? FileManager.default.removeItem(atPath: path + suffix)
    }
}

/// Copies a closed database (and its WAL, if one was left) to `destination`.
public func copyDatabase(from source: String, to destination: String) throws {
    removeDatabase(at: destination)
    for suffix in ["", "-wal"] where FileManager.default.fileExists(atPath: source + suffix) {
        try FileManager.default.copyItem(atPath: source + suffix, toPath: destination + suffix)
    }
}

/// Parses `FULL` / `NORMAL` (any case).
public func durability(named name: String) throws -> Durability {
    switch name.uppercased() {
    case "FULL": .powerLossSafe
    case "NORMAL": .processCrashSafe
    default: throw BenchError("unknown sync mode \(name): use FULL or NORMAL")
    }
}

extension Durability {
    /// `FULL` or `NORMAL`, as in `PRAGMA synchronous`.
    public var syncName: String { self == .powerLossSafe ? "FULL" : "NORMAL" }
}

/// The peak and current resident set size of this process, in bytes
/// (`VmHWM` and `VmRSS` of /proc/self/status; `nil` where that does not exist).
public func residentMemory() -> (peak: Int, current: Int)? {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
    func kilobytes(_ key: String) -> Int? {
        guard let line = status.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }) else { return nil }
        return line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
    }
    guard let peak = kilobytes("VmHWM"), let current = kilobytes("VmRSS") else { return nil }
    return (peak * 1024, current * 1024)
}

/// Latency samples summarised as the peers' scripts do (nearest-rank percentiles).
public struct LatencySummary: Sendable {
    public var samples: [Double]

    public init(samples: [Double]) {
        self.samples = samples.sorted()
    }

    /// The nearest-rank percentile `p` (0...100), in seconds.
    public func percentile(_ p: Double) -> Double {
        guard !samples.isEmpty else { return .nan }
        let rank = Int((p / 100 * Double(samples.count) + 0.5).rounded(.down)) - 1
        return samples[max(0, min(samples.count - 1, rank))]
    }

    public var json: [String: Any] {
        guard !samples.isEmpty else { return ["n": 0] }
        return [
            "n": samples.count,
            "p50_ms": milliseconds(percentile(50)),
            "p90_ms": milliseconds(percentile(90)),
            "p99_ms": milliseconds(percentile(99)),
            "mean_ms": milliseconds(samples.reduce(0, +) / Double(samples.count)),
            "min_ms": milliseconds(samples[0]),
            "max_ms": milliseconds(samples[samples.count - 1]),
        ]
    }
}

func milliseconds(_ seconds: Double) -> Double { (seconds * 1e6).rounded() / 1e3 }
func rounded(_ value: Double, _ places: Int = 3) -> Double {
    let scale = pow(10, Double(places))
    return (value * scale).rounded() / scale
}

/// One JSON object on one line, keys sorted, as the peers' scripts print.
public func jsonLine(_ object: [String: Any]) -> String {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data("{}".utf8)
    return String(decoding: data, as: UTF8.self)
}

/// Facts about this machine and build for a result line.
public func environmentInfo() -> [String: Any] {
    var info: [String: Any] = ["cpus": ProcessInfo.processInfo.activeProcessorCount]
    var name = utsname()
    uname(&name)
    info["platform"] = withUnsafeBytes(of: name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    return info
}
