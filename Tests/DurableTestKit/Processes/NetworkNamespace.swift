public import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Another host on this machine, for tests of several hosts: a network namespace
/// (`ip netns`) joined to this one by a veth pair, the host side 10.222.X.1/30 and
/// the namespace side 10.222.X.2/30. A process started with
/// ``command(_:_:hostName:)`` runs inside it under a host name of its own (a UTS
/// namespace of its own, `unshare --uts`), so that Durable takes it for another
/// machine: only its network and its host name differ, as between two machines
/// of one cluster. ``linkDown()`` cuts the link (the host side goes down: packets
/// are dropped, nothing is reset, as when a cable is pulled), ``linkUp()`` mends it.
///
/// Needs root and iproute2's `ip` (scripts/bootstrap installs it); Linux only.
/// ``remove()`` deletes the namespace and with it the veth pair; namespaces left
/// by test processes that are gone (named `durable-<pid>-<token>`) are deleted by
/// the next ``create()``.
///
/// ```swift
/// let network = try NetworkNamespace.create()
/// defer { network.remove() }
/// let (ip, arguments) = network.command(worker, ["run", url], hostName: "host-b")
/// try network.linkDown()
/// ```
public final class NetworkNamespace: Sendable {
    /// The namespace's name: `durable-<pid of the test process>-<token>`.
    public let name: String
    /// The veth end on this host: the one ``linkDown()`` takes down.
    public let hostInterface: String
    /// The veth end inside the namespace.
    public let namespaceInterface: String
    /// This host's address on the link (10.222.X.1): what the namespace reaches.
    public let hostAddress: String
    /// The namespace's address on the link (10.222.X.2).
    public let namespaceAddress: String
    private let removed = Mutex(false)

    static let prefix = "durable-"

    private init(token: String, subnet: Int) {
        name = "\(Self.prefix)\(getpid())-\(token)"
        hostInterface = "dh\(token)"
        namespaceInterface = "dn\(token)"
        hostAddress = "10.222.\(subnet).1"
        namespaceAddress = "10.222.\(subnet).2"
    }

    deinit { remove() }

    /// Why this process cannot make namespaces, or `nil` when it can.
    public static var missingReason: String? {
        #if os(Linux)
            if getuid() != 0 { return "network namespaces need root (CI runs the tests as root)" }
            if findExecutable("ip") == nil { return "iproute2's ip is not installed (scripts/bootstrap installs it)" }
            if findExecutable("unshare") == nil { return "util-linux's unshare is not installed" }
            return nil
        #else
            return "network namespaces are Linux's"
        #endif
    }

    /// Makes a namespace with its veth pair, addresses set and links up.
    public static func create() throws -> NetworkNamespace {
        if let reason = missingReason { throw TestKitError(reason) }
        removeStale()
        let token = String(UInt32.random(in: 0...0xff_ffff), radix: 16)
        let namespace = NetworkNamespace(token: token, subnet: try freeSubnet())
        do {
            try ip("netns", "add", namespace.name)
            // The pair is made with its peer already inside: no half-made pair is left.
            try ip(
                "link", "add", namespace.hostInterface, "type", "veth", "peer", "name", namespace.namespaceInterface,
                "netns", namespace.name)
            try ip("addr", "add", "\(namespace.hostAddress)/30", "dev", namespace.hostInterface)
            try ip("link", "set", namespace.hostInterface, "up")
            try ip("-n", namespace.name, "addr", "add", "\(namespace.namespaceAddress)/30", "dev", namespace.namespaceInterface)
            try ip("-n", namespace.name, "link", "set", namespace.namespaceInterface, "up")
            try ip("-n", namespace.name, "link", "set", "lo", "up")
        } catch {
            namespace.remove()
            throw error
        }
        return namespace
    }

    /// Cuts the link: the host side goes down, so the namespace's packets to this
    /// host are dropped (no reset, no refusal) until ``linkUp()``.
    public func linkDown() throws {
        try Self.ip("link", "set", hostInterface, "down")
    }

    /// Mends the link; connections that were cut resume where TCP left them.
    public func linkUp() throws {
        try Self.ip("link", "set", hostInterface, "up")
    }

    /// The command line that runs `executable` with `arguments` inside the
    /// namespace under the host name `hostName`: `ip netns exec NAME unshare --uts
    /// sh -c 'hostname NAME && exec ...'`. Each of them replaces itself with the
    /// next, so the process started is the one that runs `executable` (its pid is
    /// the worker's).
    public func command(_ executable: URL, _ arguments: [String], hostName: String) throws
        -> (executable: URL, arguments: [String])
    {
        guard let unshare = Self.findExecutable("unshare") else { throw TestKitError("unshare is not installed") }
        return (
            try Self.executable("ip"),
            ["netns", "exec", name, unshare.path, "--uts", "/bin/sh", "-c", #"hostname "$0" && exec "$@""#, hostName,
                executable.path] + arguments
        )
    }

    /// Deletes the namespace and its veth pair; fine to call again. A process
    /// still inside keeps the namespace (and the pair) until it ends.
    public func remove() {
        let first = removed.withLock { done in
            defer { done = true }
            return !done
        }
        guard first else { return }
        try? Self.ip("netns", "delete", name)
        // Gone with the namespace's end of the pair, unless a process holds it.
        if Self.interfaceExists(hostInterface) { try? Self.ip("link", "delete", hostInterface) }
    }

    /// Deletes the namespaces of test processes that are gone (their veth pairs
    /// go with them).
    public static func removeStale() {
        guard let listing = try? run(executable("ip"), ["netns", "list"]) else { return }
        for line in listing.standardOutput.split(separator: "\n") {
            guard let name = line.split(separator: " ").first.map(String.init), name.hasPrefix(prefix) else { continue }
            let fields = name.dropFirst(prefix.count).split(separator: "-")
            guard fields.count == 2, let pid = Int32(fields[0]) else { continue }
            if pid != getpid(), kill(pid, 0) != 0, errno == ESRCH {
                try? ip("netns", "delete", name)
            }
        }
    }

    /// A third byte X for 10.222.X.0/30 that no address of this host uses.
    private static func freeSubnet() throws -> Int {
        let addresses = try run(executable("ip"), ["-4", "-o", "addr", "show"]).standardOutput
        for subnet in (0...255).shuffled() where !addresses.contains("inet 10.222.\(subnet).") {
            return subnet
        }
        throw TestKitError("every 10.222.X.0/30 subnet is in use on this host:\n\(addresses)")
    }

    private static func interfaceExists(_ name: String) -> Bool {
        FileManager.default.fileExists(atPath: "/sys/class/net/\(name)")
    }

    // MARK: Running commands

    private static func ip(_ arguments: String...) throws {
        let finished = try run(executable("ip"), arguments)
        guard finished.status == 0, !finished.signalled else {
            throw TestKitError(
                "ip \(arguments.joined(separator: " ")) failed with status \(finished.status): "
                    + finished.standardOutput + finished.standardError)
        }
    }

    private static func run(_ executable: URL, _ arguments: [String]) throws -> SpawnedProcess.Finished {
        // `ip` ends within milliseconds, and `remove()` runs in a `deinit`.
        try SpawnedProcess.runBlocking(executable.path, arguments, mergingErrors: false)
    }

    static func executable(_ name: String) throws -> URL {
        guard let url = findExecutable(name) else { throw TestKitError("\(name) is not installed") }
        return url
    }

    /// `name` on `$PATH`, or in the system's folders (`ip` is in /usr/sbin, which
    /// a PATH may lack).
    public static func findExecutable(_ name: String) -> URL? {
        let path = ProcessInfo.processInfo.environment["PATH"]?.split(separator: ":").map(String.init) ?? []
        for folder in path + ["/usr/sbin", "/sbin", "/usr/bin", "/bin"] {
            let candidate = "\(folder)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return URL(fileURLWithPath: candidate) }
        }
        return nil
    }
}
