import ArgumentParser
import Durable
import DurableDashboard
import Foundation

/// `durable ui`: serves the web dashboard of a database until stopped (Ctrl-C).
struct DashboardCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ui",
        abstract: "Serve a web dashboard of the database: an overview, the tasks, each task; JSON under /api/.",
        discussion: """
            It only reads, unless started with --allow-actions (cancel a task, retry a task, retry a job's \
            failed tasks: POSTs with a CSRF token). It listens on 127.0.0.1:8080 unless told otherwise; to \
            listen on another address give --token too: every request must then carry it (the page asks for it \
            once; API clients send 'Authorization: Bearer TOKEN').
            """)

    @OptionGroup var database: DatabaseOption
    @Option(name: .long, help: ArgumentHelp("Where to listen (port 0: a free one).", valueName: "host:port"))
    var listen = "127.0.0.1:8080"
    @Option(name: .long, help: "A token every request must carry; required to listen beyond this machine.")
    var token: String?
    @Flag(name: .long, help: "Let people cancel and retry tasks from the dashboard.")
    var allowActions = false

    func run() async throws {
        let (host, port) = try Self.address(listen)
        if let token, token.isEmpty || token.contains(where: \.isWhitespace) {
            throw CommandError("--token must be a word without spaces")
        }
        guard token != nil || Self.isLoopback(host) else {
            throw CommandError(
                "--listen \(listen) reaches beyond this machine: give --token too (or listen on 127.0.0.1)")
        }
        let engine: TaskEngine
        if allowActions {
            try database.requireExisting()
            engine = try await database.openEngine()
        } else {
            engine = try await openForReading(database)
        }
        defer { try? engine.close() }
        let location = database.location
        let dashboard = Dashboard(engine: engine, access: Dashboard.Access(token: token, allowActions: allowActions))
        let application = dashboard.application(
            host: host, port: port, logger: CommandLogHandler.logger(level: .warning)
        ) { host, port in
            let shown = host.contains(":") ? "[\(host)]" : host
            // Written at once (not buffered): scripts and tests read the address from it.
            FileHandle.standardOutput.write(
                Data("durable ui: http://\(shown):\(port)/ on \(location) (Ctrl-C stops it)\n".utf8))
        }
        try await application.runService()
    }

    /// `host:port` or `[v6-host]:port`.
    static func address(_ text: String) throws -> (host: String, port: Int) {
        let host: Substring
        let port: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw CommandError("--listen \(text): expected [host]:port") }
            port = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            port = text[text.index(after: colon)...]
        } else {
            throw CommandError("--listen \(text): expected host:port, for example 127.0.0.1:8080")
        }
        guard !host.isEmpty, let number = Int(port), (0...65535).contains(number) else {
            throw CommandError("--listen \(text): expected host:port with a port from 0 to 65535")
        }
        return (String(host), number)
    }

    /// Whether `host` is reachable from this machine only.
    static func isLoopback(_ host: String) -> Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }
}
