import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Who this process is, in terms that let another process on the same machine
/// prove that it is gone: host name, boot id, pid and the pid's start time.
struct ProcessIdentity: Sendable, Equatable {
    var host: String
    var bootID: String
    var pid: Int32
    var processStart: String

    /// This process.
    static let current = ProcessIdentity(
        host: hostName(), bootID: bootID(), pid: getpid(), processStart: startTime(of: getpid()) ?? "unknown")

    /// Whether the worker is provably dead: it ran on this host, and either the host
    /// rebooted since or its process is gone (a reused pid has another start time).
    /// A worker of another host is never provably dead; its leases decide.
    func provesDead(_ worker: WorkerInfo) -> Bool {
        guard worker.host == host else { return false }
        if worker.bootID != bootID { return true }
        if worker.pid == pid { return worker.processStart != processStart }
        guard let start = Self.startTime(of: worker.pid) else { return true }
        return start != worker.processStart
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

    /// Field 22 of `/proc/<pid>/stat` (start time in clock ticks since boot), or
    /// `nil` when no such process exists.
    static func startTime(of pid: Int32) -> String? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else {
            #if canImport(Darwin)
                return kill(pid, 0) == 0 || errno == EPERM ? "unknown" : nil
            #else
                return nil
            #endif
        }
        // The command name (field 2) is in parentheses and may hold spaces.
        guard let close = stat.lastIndex(of: ")") else { return nil }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // fields[0] is field 3 (state), so field 22 is fields[19].
        return fields.count > 19 ? String(fields[19]) : nil
    }
}
