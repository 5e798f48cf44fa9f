import ArgumentParser
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `durable guard-lines --runner ID` (hidden): started by `durable run` with a pipe
/// as standard input whose other end only that `durable run` holds. When the pipe
/// closes — `durable run` exited or was killed, even with SIGKILL — it stops every
/// process still running with `DURABLE_RUNNER=ID` in its environment (the lines'
/// shells and what they started): SIGTERM, then SIGKILL after the grace period.
/// So no line outlives the `durable run` that started it. It ignores the terminal's
/// signals (Ctrl-C goes to `durable run`, which decides what stops).
struct GuardLinesCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "guard-lines", abstract: "Stops a durable run's lines when it exits (started by durable run).",
        shouldDisplay: false)

    @Option(help: "The runner id the lines carry in DURABLE_RUNNER.") var runner: String
    @Option(help: "Between SIGTERM and SIGKILL, in milliseconds.") var graceMs: Int = 2000

    func run() throws {
        for number in [SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP, SIGPIPE] { signal(number, SIG_IGN) }
        var byte: UInt8 = 0
        // Nothing is ever written: read returns 0 (or fails) once the pipe closes.
        while read(STDIN_FILENO, &byte, 1) > 0 {}
        _ = LineProcesses.stop(["DURABLE_RUNNER": runner], gracePeriod: .milliseconds(max(0, graceMs)))
    }
}
