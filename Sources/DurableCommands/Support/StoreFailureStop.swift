import ArgumentParser
import Durable

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `--store-timeout` of the commands that run a worker (`run`, `fetch`): how long
/// they go on while the database cannot be written before they stop.
struct StoreTimeoutOption: ParsableArguments {
    @Option(
        name: .long,
        help: ArgumentHelp(
            "How long to go on while the database cannot be written (a full disk, say) before stopping with exit "
                + "status 75; running the same command again resumes.",
            valueName: "duration"))
    var storeTimeout: String = "60s"

    /// The engine's `storeFailureTimeout`.
    func timeout() throws -> Duration {
        try DurationArgument(parsing: storeTimeout, option: "--store-timeout").duration
    }
}

/// How `run` and `fetch` stop when the database could not be written for
/// `--store-timeout`: one line naming the cause, one saying what happens next, and
/// exit status 75 (EX_TEMPFAIL: try again later).
enum StoreFailureStop {
    static let exitStatus: Int32 = 75

    /// Reports `error` (a ``DurableError/Code/storeUnavailable``) for `command`.
    static func report(_ error: DurableError, command: String, resumes what: String) -> ExitCode {
        let text = "Error: \(error.message)\n\(command): stopped; nothing stored is lost. Run the same command "
            + "again once the database can be written: \(what)\n"
        writeAll(STDERR_FILENO, Array(text.utf8))
        return ExitCode(exitStatus)
    }
}
