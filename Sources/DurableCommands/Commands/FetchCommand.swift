import ArgumentParser
import Durable
import Foundation

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `durable fetch URLS --out FILE`: GETs every listed URL as a durable task and
/// appends one `url<TAB>status<TAB>bytes<TAB>sha256` line per URL to FILE,
/// exactly once across crashes and re-runs.
struct FetchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fetch",
        abstract: "GET every URL of a list durably and append url, status, bytes and SHA-256 lines to a file.",
        discussion: """
            Each URL is a task in the database, keyed by FILE and the URL: kill the command at any \
            moment and run it again with the same arguments, and it fetches only what is missing. \
            FILE then holds each URL's line exactly once and never a partial line (a line cut short \
            by a crash is removed when the run starts; one cut short by a full disk at once). Bytes \
            FILE held before Durable first wrote to it are kept. FILE belongs to the database: if \
            anything else writes after its last line (you, or durable fetch with another database), \
            the command stops with an error naming FILE and changes nothing. If FILE was deleted, \
            its lines are written again from the database first. A URL listed twice is fetched once.

            A URL whose final response (after redirects) has a status below 400 gets its line: \
            url, status, body length in bytes and the body's SHA-256, separated by tabs. A status of \
            400 or more, a timeout or a network error fails the URL's task and writes no line; \
            server errors (5xx, 408, 429) and network errors are retried first, with backoff. \
            Failed URLs are listed on standard error, and the command exits with 1. A re-run keeps \
            their stored failure; `durable retry --failed` makes them pending again, and the next \
            `durable fetch` fetches them.

            URLS has one http or https URL per non-empty line (`-` reads standard input); a line \
            that is not one stops the command before anything is stored, naming the line.

            Ctrl-C once: no new URLs start; running ones finish. Twice (or SIGTERM, SIGHUP): running \
            fetches stop and are fetched again next time. When the database cannot be written for \
            --store-timeout (a full disk, say), the command stops with exit status 75; running it again \
            fetches what was not stored.

            Exit status: 0 when every URL was fetched, 1 when any failed, 75 (see above), 128 + the signal \
            (130 for Ctrl-C) when interrupted before every URL finished.
            """)

    @Argument(help: "A file with one URL per line, or - for standard input.")
    var urls: String

    @Option(name: .long, help: ArgumentHelp("The file the lines are appended to.", valueName: "file"))
    var out: String

    @Option(name: [.customShort("j"), .customLong("jobs")], help: "How many URLs to fetch at once.")
    var jobs = 16

    @Option(
        help: ArgumentHelp(
            "The longest one GET may take, body included (such as 30s, 500ms or 2m; a plain number is seconds; at "
                + "most 1d).", valueName: "duration"),
        transform: { try DurationArgument(parsing: $0, option: "--timeout").duration })
    var timeout: Duration = .seconds(30)

    @Option(help: "How many times to retry a URL after a server or network error.")
    var retries = 2

    @Option(
        help: ArgumentHelp(
            "The wait before the first retry, doubled for each next one (such as 1s or 250ms; a plain number is "
                + "seconds; at most 1d).", valueName: "duration"),
        transform: { try DurationArgument(parsing: $0, option: "--retry-delay").duration })
    var retryDelay: Duration = .seconds(1)

    @Option(help: "How many redirects to follow; 0 follows none and records the 3xx response.")
    var maxRedirects = 5

    @Flag(name: .shortAndLong, help: "Print only the summary line, no progress.")
    var quiet = false

    @OptionGroup var database: DatabaseOption
    @OptionGroup var storeTimeout: StoreTimeoutOption

    func validate() throws {
        guard jobs >= 1 else { throw ValidationError("-j/--jobs must be at least 1") }
        guard timeout > .zero, timeout <= .seconds(86_400) else {
            throw ValidationError("--timeout must be more than 0 and at most 1d")
        }
        guard (0...1000).contains(retries) else { throw ValidationError("--retries must be between 0 and 1000") }
        guard retryDelay <= .seconds(86_400) else { throw ValidationError("--retry-delay must be at most 1d") }
        guard maxRedirects >= 0 else { throw ValidationError("--max-redirects cannot be negative") }
    }

    func run() async throws {
        // Everything that can be refused is checked before the database is opened,
        // so bad input changes nothing stored.
        let list = try URLList(reading: urls)
        let output = try OutputFile(out)
        let inputs = list.urls.map { FetchURL.Input(url: $0, out: output.path) }

        let storeFailureTimeout = try storeTimeout.timeout()
        let engine = try await database.openEngine { configuration in
            configuration.maxConcurrentTasks = jobs
            configuration.storeFailureTimeout = storeFailureTimeout
        }
        defer { try? engine.close() }
        let fetcher = PageFetcher(
            timeout: timeout, maxRedirects: maxRedirects, connectionsPerHost: jobs)
        engine.register(FetchURL(fetcher: fetcher))
        let retry =
            retries > 0
            ? RetryPolicy.exponentialJitter(
                maxAttempts: retries + 1, initialDelay: retryDelay,
                maxDelay: .seconds(60))
            : RetryPolicy.none
        let progress = ProgressReporter(label: "durable fetch", total: inputs.count, quiet: quiet)
        let stopper = RunStopper(engine: engine, command: "durable fetch", noun: "URLs")
        let signals = await StopSignals.handle(with: stopper) { writeAll(STDERR_FILENO, Array("\($0)\n".utf8)) }
        defer { signals.cancel() }
        let result: FetchBatch.Tally
        do {
            // A deleted --out is written again from the database, lines and all;
            // an --out that does not match it stops the command (bad input: exit 2).
            let restored: Int
            do {
                restored = try await engine.restoreAppendedFile(at: output.path)
                try await engine.repairAppendedFile(at: output.path)
            } catch let error as NonRetryableError {
                throw CommandError(error.message)
            }
            if restored > 0 {
                let note = "durable fetch: \(out) did not exist; wrote its \(restored) line(s) again from \(database.location)\n"
                writeAll(STDERR_FILENO, Array(note.utf8))
            }
            result = try await FetchBatch(inputs: inputs, retry: retry).run(
                on: engine, stopper: stopper, progress: progress)
            // A failed write (a full disk) cut its partial line; nothing else may be left half-written.
            try await engine.repairAppendedFile(at: output.path)
        } catch let error as DurableError where error.code == .storeUnavailable {
            await fetcher.shutdown()
            throw StoreFailureStop.report(
                error, command: "durable fetch", resumes: "URLs whose line is not in \(out) are fetched again")
        } catch {
            await fetcher.shutdown()
            throw error
        }
        await fetcher.shutdown()

        var summary = "durable fetch: \(result.unfinished > 0 ? "interrupted: " : "")\(result.fetched) of "
            + "\(inputs.count) URLs fetched, \(result.failed) failed"
        if list.duplicates > 0 {
            summary += " (\(list.duplicates) repeated \(list.duplicates == 1 ? "line" : "lines") fetched once)"
        }
        if result.unfinished > 0 { summary += ", \(result.unfinished) not finished" }
        summary += "; lines in \(out)"
        if result.unfinished > 0 { summary += "; run the same command again to finish" }
        var report: [String] = []
        if !quiet {
            report = result.failures.map { "durable fetch: failed: \($0)" }
            if result.failed > result.failures.count {
                report.append(
                    "durable fetch: … and \(result.failed - result.failures.count) more failures "
                        + "(\(database.shellQuery { "select name, error from \($0)tasks where status = 'failed'" }))")
            }
        }
        if output.size() < result.recordedEnd {
            report.append(
                "durable fetch: warning: \(out) is shorter than the lines recorded for it (was it edited or "
                    + "removed?); use a new --db to fetch everything again")
        }
        progress.finish(summary: (report + [summary]).joined(separator: "\n"))
        if result.unfinished > 0 { throw ExitCode(128 + (stopper.interruptSignal ?? SIGINT)) }
        if result.failed > 0 { throw ExitCode(1) }
    }
}

/// The URLs of a list file (or standard input), checked: one http or https URL
/// per non-empty line, surrounding spaces ignored, repeats dropped.
struct URLList {
    /// The distinct URLs, in list order.
    var urls: [String] = []
    /// How many lines repeated an earlier URL.
    var duplicates = 0

    /// Reads and checks the list.
    ///
    /// - Throws: ``CommandError`` naming the file when it is missing, unreadable,
    ///   not UTF-8 or empty, or naming the first line that is not a URL.
    init(reading path: String) throws {
        let name = path == "-" ? "standard input" : path
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
                throw CommandError("cannot read the URL list \(path): no such file")
            }
            guard !isDirectory.boolValue else { throw CommandError("cannot read the URL list \(path): it is a folder") }
            guard let contents = FileManager.default.contents(atPath: path) else {
                throw CommandError("cannot read the URL list \(path): permission denied")
            }
            data = contents
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw CommandError("the URL list \(name) is not UTF-8 text")
        }
        var seen = Set<String>()
        var malformed: [(line: Int, text: String)] = []
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let line = rawLine.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !line.isEmpty else { continue }
            guard Self.isHTTPURL(line) else {
                malformed.append((index + 1, line))
                continue
            }
            if seen.insert(line).inserted { urls.append(line) } else { duplicates += 1 }
        }
        if let first = malformed.first {
            let shown = first.text.count > 80 ? String(first.text.prefix(80)) + "…" : first.text
            let others =
                switch malformed.count {
                case 1: ""
                case 2: " (and 1 more malformed line)"
                default: " (and \(malformed.count - 1) more malformed lines)"
                }
            throw CommandError("\(name), line \(first.line): not an http or https URL: \(shown)\(others)")
        }
        guard !urls.isEmpty else { throw CommandError("the URL list \(name) has no URLs") }
    }

    /// Whether `text` is an absolute http or https URL with a host and nothing a
    /// line of the output could not hold (spaces, tabs, control characters).
    static func isHTTPURL(_ text: String) -> Bool {
        let unfit = text.unicodeScalars.contains { $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F }
        guard !unfit else { return false }
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else { return false }
        return true
    }
}

/// The `--out` file, checked before anything is stored: its folder must exist
/// and it must not be a folder itself.
struct OutputFile {
    /// Absolute, with the folder's symbolic links resolved: the form stored in
    /// the tasks' input, so every spelling of the file finds the same tasks.
    let path: String

    init(_ given: String) throws {
        let url = URL(fileURLWithPath: given).standardizedFileURL
        let folder = url.deletingLastPathComponent().resolvingSymlinksInPath()
        path = folder.appendingPathComponent(url.lastPathComponent).path
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: folder.path, isDirectory: &isDirectory), isDirectory.boolValue
        else {
            throw CommandError("cannot write --out \(given): the folder \(folder.path) does not exist")
        }
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard !isDirectory.boolValue else { throw CommandError("cannot write --out \(given): it is a folder") }
            guard FileManager.default.isWritableFile(atPath: path) else {
                throw CommandError("cannot write --out \(given): permission denied")
            }
        } else if !FileManager.default.isWritableFile(atPath: folder.path) {
            throw CommandError("cannot write --out \(given): the folder \(folder.path) is not writable")
        }
    }

    /// The file's size now; 0 when it does not exist.
    func size() -> Int64 {
        let attributes = try? FileManager.default.attributesOfItem(atPath: path)
        return (attributes?[.size] as? NSNumber)?.int64Value ?? 0
    }
}
