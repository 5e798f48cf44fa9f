import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// A TCP forwarder (`socat`, one child process per connection): what listens on
/// `listenAddress:listenPort` is carried to `targetHost:targetPort`. The several-
/// hosts test reaches the test PostgreSQL server (which listens on 127.0.0.1
/// only) from a network namespace through one listening on the namespace link's
/// host address: the server keeps listening on loopback alone, the forwarder
/// exists only while the test runs, and a cut link cuts the forwarded
/// connections for real. socat is Debian's (scripts/bootstrap installs it).
public final class TCPForwarder: Sendable {
    public let listenAddress: String
    public let listenPort: Int
    public let targetPort: Int
    private let child: ChildProcess

    /// Whether socat is there.
    public static var missingReason: String? {
        NetworkNamespace.findExecutable("socat") == nil ? "socat is not installed (scripts/bootstrap installs it)" : nil
    }

    /// Starts forwarding and waits until the listening socket is there; socat's
    /// messages go to `output`.
    public init(
        listen listenAddress: String, port listenPort: Int, to targetHost: String, port targetPort: Int, output: String
    ) async throws {
        if let reason = Self.missingReason { throw TestKitError(reason) }
        self.listenAddress = listenAddress
        self.listenPort = listenPort
        self.targetPort = targetPort
        child = try ChildProcess(
            "socat", executable: try NetworkNamespace.executable("socat"),
            arguments: [
                "TCP4-LISTEN:\(listenPort),bind=\(listenAddress),reuseaddr,fork",
                "TCP4:\(targetHost):\(targetPort)",
            ], output: output)
        try await poll("socat listens on \(listenAddress):\(listenPort)", timeout: .seconds(30), child: child) {
            Self.isListening(address: listenAddress, port: listenPort)
        }
    }

    deinit { killAll() }

    /// Stops the forwarder and the connections it carries.
    public func stop() async throws {
        killAll()
        _ = try await child.waitForExit(timeout: .seconds(30))
    }

    /// The local ports of the connections that the forwarder made to its target
    /// now: the `client_port`s under which the server knows the forwarded
    /// sessions (`pg_stat_activity`).
    public func upstreamPorts() -> Set<Int> {
        var sockets: Set<String> = []
        for pid in Self.children(of: child.pid) {
            let folder = "/proc/\(pid)/fd"
            for fd in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] {
                guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "\(folder)/\(fd)"),
                    target.hasPrefix("socket:[")
                else { continue }
                sockets.insert(String(target.dropFirst("socket:[".count).dropLast()))
            }
        }
        guard let table = Self.readWhole("/proc/net/tcp") else { return [] }
        var ports: Set<Int> = []
        for line in table.split(separator: "\n").dropFirst() {
            // sl, local_address, rem_address, st, tx:rx, tr:when, retrnsmt, uid, timeout, inode
            let fields = line.split(separator: " ")
            guard fields.count > 9, sockets.contains(String(fields[9])),
                let remote = fields[2].split(separator: ":").last, Int(remote, radix: 16) == targetPort,
                let local = fields[1].split(separator: ":").last, let port = Int(local, radix: 16)
            else { continue }
            ports.insert(port)
        }
        return ports
    }

    /// SIGKILL to socat's connection children, then to socat.
    private func killAll() {
        for pid in Self.children(of: child.pid) { kill(pid, SIGKILL) }
        child.killNow()
    }

    /// The processes whose parent is `parent`, from /proc.
    private static func children(of parent: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { entry -> Int32? in
            guard let pid = Int32(entry),
                let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return nil }
            // After the command name: state, then the parent's pid.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 1 && Int32(fields[1]) == parent ? pid : nil
        }
    }

    /// A file of /proc read to its end: they report no size, and Foundation's
    /// String(contentsOfFile:) may stop at the first page of a long one.
    static func readWhole(_ path: String) -> String? {
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            guard count > 0 else { break }
            bytes += buffer[0..<count]
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Whether /proc/net/tcp has a socket listening on `address:port` (IPv4).
    static func isListening(address: String, port: Int) -> Bool {
        let bytes = address.split(separator: ".").compactMap { UInt8($0) }
        guard bytes.count == 4, let table = readWhole("/proc/net/tcp") else {
            return false
        }
        // The kernel prints the address as the 32-bit word in memory, in host order.
        #if _endian(little)
            let word = bytes.reversed().map { String(format: "%02X", $0) }.joined()
        #else
            let word = bytes.map { String(format: "%02X", $0) }.joined()
        #endif
        let local = "\(word):\(String(format: "%04X", port))"
        return table.split(separator: "\n").contains { line in
            let fields = line.split(separator: " ")
            // sl, local_address, rem_address, st (0A: LISTEN)
            return fields.count > 3 && fields[1] == local && fields[3] == "0A"
        }
    }
}
