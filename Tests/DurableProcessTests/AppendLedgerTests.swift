import DurableTestKit
import Durable
import Foundation
import Testing

/// The ledger of appended lines never touches bytes it did not write: two
/// databases fetching to one file.
@Suite("Appending lines: what the ledger may touch")
struct AppendLedgerTests {
    @Test("durable fetch with two databases and one --out: the run that finds the other's lines stops, cutting none")
    func fetchTwoDatabasesOneOut() async throws {
        let directory = TemporaryDirectory()
        try await withServer { server in
            let out = directory.file("shared.tsv")
            let firstList = directory.file("first.txt")
            let secondList = directory.file("second.txt")
            try write(server.url("/item/1") + "\n", to: firstList)
            try write(server.url("/item/2") + "\n", to: secondList)
            let firstDB = directory.file("first.sqlite")
            let secondDB = directory.file("second.sqlite")
            #expect(try await durable(["fetch", firstList, "--out", out, "--db", firstDB, "--quiet"], in: directory).status == 0)
            #expect(try await durable(["fetch", secondList, "--out", out, "--db", secondDB, "--quiet"], in: directory).status == 0)
            let both = try Data(contentsOf: URL(fileURLWithPath: out))
            #expect(try lines(of: out).count == 2)

            // The first database again, with one more URL.
            try write(server.url("/item/1") + "\n" + server.url("/item/3") + "\n", to: firstList)
            let refused = try await durable(["fetch", firstList, "--out", out, "--db", firstDB, "--quiet"], in: directory)
            #expect(refused.status != 0, "\(refused)")
            #expect(refused.standardError.contains("belongs to one database"), "\(refused)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == both, "the other database's line is still there")
            #expect(server.requests(to: "/item/3") == 0)
        }
    }
}

/// `durable fetch` and Ctrl-C.
@Suite("durable fetch: interrupted")
struct FetchInterruptTests {
    @Test("Ctrl-C lets running fetches finish, starts no new one, reports it, exits 130; a rerun finishes the batch")
    func ctrlC() async throws {
        let directory = TemporaryDirectory()
        try await withServer { server in
            let list = directory.file("urls.txt")
            let urls = (0..<12).map { server.url("/slow/400/\($0)") }
            try write(urls.joined(separator: "\n") + "\n", to: list)
            let out = directory.file("out.tsv")
            let db = directory.file("fetch.sqlite")
            let arguments = ["fetch", list, "--out", out, "--db", db, "-j", "2"]
            let first = try DurableProcess(arguments, in: directory, label: "fetch-1")
            try await poll("the first line is written", child: first) { try lines(of: out).count >= 1 }
            first.signal(SIGINT)
            let interrupted = try await first.finish()
            #expect(interrupted.status == 130, "\(interrupted)")
            #expect(interrupted.standardError.contains("durable fetch: stopping: no new URLs start"), "\(interrupted)")
            #expect(interrupted.summary.contains("interrupted:"), "\(interrupted)")
            #expect(interrupted.summary.contains("not finished; lines in"), "\(interrupted)")
            let probe = try DatabaseProbe(path: db)
            #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'running'") == 0)
            let written = try lines(of: out).count
            #expect(written >= 1 && written < urls.count)
            try probe.close()

            let second = try await durable(arguments, in: directory)
            #expect(second.status == 0, "\(second)")
            let all = try lines(of: out)
            #expect(all.count == urls.count)
            #expect(Set(all.map { String($0.split(separator: "\t")[0]) }) == Set(urls))
        }
    }
}
