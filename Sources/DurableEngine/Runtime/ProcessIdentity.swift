import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Who this process is, in terms that let another process on the same machine
/// prove that it is gone: host name, boot id, pid namespace, pid and the pid's
/// start time.
package struct ProcessIdentity: Sendable, Equatable {
    package var host: String
    /// The boot id and the pid namespace, which together say whether a pid seen
    /// by this process means the same process as when it was recorded.
    var bootID: String
    var pid: Int32
    var processStart: String

    /// This process.
    package static let current = ProcessIdentity(
        host: hostName(), bootID: "\(bootID())/\(pidNamespace())", pid: getpid(),
        processStart: {
            if case .running(let start?) = liveness(of: getpid()) { return start }
            return "unknown"
        }())

    /// Whether the worker is provably dead: it ran on this host, and either the host
    /// rebooted since, or (in the same pid namespace) its process is gone, a zombie,
    /// or a reused pid with another start time. A worker of another host, or one
    /// whose process cannot be inspected, is never provably dead; leases decide.
    func provesDead(_ worker: WorkerInfo) -> Bool {
        guard worker.host == host else { return false }
        let (recordedBoot, recordedNamespace) = Self.split(worker.bootID)
        let (boot, namespace) = Self.split(bootID)
        if recordedBoot != boot { return boot != "unknown" && recordedBoot != "unknown" }
        guard recordedNamespace == namespace, namespace != "unknown" else { return false }
        switch Self.liveness(of: worker.pid) {
        case .gone:
            return true
        case .running(let start?):
            return start != worker.processStart && worker.processStart != "unknown"
        case .running(nil):
            return false
        }
    }

    private static func split(_ value: String) -> (String, String) {
        guard let slash = value.lastIndex(of: "/") else { return (value, "unknown") }
        return (String(value[..<slash]), String(value[value.index(after: slash)...]))
    }

    enum Liveness: Equatable {
        /// No such process, or only its zombie is left.
        case gone
        /// Running, with its start time when `/proc` tells it.
        case running(start: String?)
    }

    private static func hostName() -> String {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count) == 0 else { return "localhost" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func bootID() -> String {
        let text = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        return text?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "unknown"
    }

    private static func pidNamespace() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? "unknown"
    }

    /// Whether `pid` runs, from `/proc/<pid>/stat` (state and start time, field 22)
    /// or, when that cannot be read, from `kill(pid, 0)`.
    static func liveness(of pid: Int32) -> Liveness {
        if let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
            let close = stat.lastIndex(of: ")")
        {
            // The command name (field 2) is in parentheses and may hold spaces;
            // fields[0] is field 3 (state), so field 22 is fields[19].
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if let state = fields.first, state == "Z" || state == "X" { return .gone }
            return .running(start: fields.count > 19 ? String(fields[19]) : nil)
        }
        if kill(pid, 0) == 0 || errno == EPERM { return .running(start: nil) }
        return .gone
    }
}
