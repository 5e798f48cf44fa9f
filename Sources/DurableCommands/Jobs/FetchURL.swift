import Durable

/// The job behind `durable fetch`: GETs one URL and appends
/// `url<TAB>status<TAB>bytes<TAB>sha256` to the output file, exactly once.
///
/// The GET is the `get` step, so a task re-run after a crash that happened
/// after the download does not download again; the line is written with
/// `context.appendLine`, which records it with its offset, so a re-run never
/// writes it twice and a line cut short by a crash is removed before the next
/// append (or by `engine.repairAppendedFile(at:)`).
///
/// The output file is part of the input (the URL list is not): the same URL
/// fetched into two files is two tasks, the same URL listed twice is one.
struct FetchURL: Job {
    static let name = "durable.fetch-url"

    /// The URL, exactly as listed, and the output file, absolute.
    struct Input: Codable, Sendable, Hashable {
        var url: String
        var out: String
    }

    /// The stored result of a fetched URL: what its line says, and where it is.
    struct Output: Codable, Sendable, Hashable {
        var status: Int
        var bytes: Int64
        var sha256: String
        var finalURL: String?
        /// The byte offset of the URL's line in the output file.
        var offset: Int64
    }

    /// Downloads for this process; set by the command from its options, so a
    /// task taken over after a crash uses the current run's timeout and redirects.
    let fetcher: PageFetcher

    func run(_ input: Input, context: TaskContext) async throws -> Output {
        let page = try await context.step("get") {
            do {
                return try await fetcher.get(input.url)
            } catch let failure as FetchFailure {
                throw failure.thrown
            }
        }
        let line = Self.line(url: input.url, page: page)
        let append = try await context.appendLine(line, to: input.out)
        return Output(
            status: page.status, bytes: page.bytes, sha256: page.sha256, finalURL: page.finalURL,
            offset: append.offset)
    }

    /// The line written for a fetched URL.
    static func line(url: String, page: FetchedPage) -> String {
        "\(url)\t\(page.status)\t\(page.bytes)\t\(page.sha256)"
    }

    /// The idempotency key of a URL's task: the output file and the URL.
    static func key(for input: Input) -> String {
        "fetch \(input.out) \(input.url)"
    }
}
