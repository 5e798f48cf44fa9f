import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// `durable fetch` run as a user would, against a real HTTP server on
/// 127.0.0.1: correct lines, failures, redirects, timeouts, SIGKILL and re-runs,
/// bad input. Expected digests come from the system's `sha256sum`, not from the
/// tool's own SHA-256.
@Suite("durable fetch")
struct FetchCommandTests {
    @Test("fetches every URL once, one correct line each, keeping the file's own bytes; a re-run changes nothing")
    func fetchesEveryURLOnce() async throws {
        let directory = TemporaryDirectory()
        try await withServer { server in
            let paths = (1...7).map { "/item/\($0)" } + ["/big/300001", "/abc", "/empty"]
            let bodies =
                (1...7).map { TestHTTPServer.body(for: $0) } + [TestHTTPServer.bigBody(300_001), Array("abc".utf8), []]
            let digests = try await sha256sum(bodies, in: directory)
            #expect(digests[8] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
            #expect(digests[9] == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
            let expected = Set(
                paths.indices.map { "\(server.url(paths[$0]))\t200\t\(bodies[$0].count)\t\(digests[$0])" })

            // Blank lines, spaces, a CRLF ending and a repeated URL are all fine.
            let list = directory.file("urls.txt")
            var text = paths.map { server.url($0) }.joined(separator: "\n")
            text = "\n  " + text.replacingOccurrences(of: "/item/3\n", with: "/item/3\r\n") + "\n\n"
                + server.url("/item/1") + "\n"
            try write(text, to: list)
            let out = directory.file("out.tsv")
            try write("# fetched by durable\n", to: out)
            let db = directory.file("fetch.sqlite")

            let first = try await durable(["fetch", list, "--out", out, "--db", db, "-j", "4"], in: directory)
            #expect(first.status == 0, "\(first)")
            #expect(first.summary.contains("10 of 10 URLs fetched, 0 failed"), "\(first)")
            #expect(first.summary.contains("1 repeated line fetched once"), "\(first)")
            let written = try lines(of: out)
            #expect(written.first == "# fetched by durable")
            #expect(written.count == 11)
            #expect(Set(written.dropFirst()) == expected)
            for path in paths { #expect(server.requests(to: path) == 1, "\(path)") }
            let probe = try DatabaseProbe(path: db)
            let succeeded = "SELECT count(*) FROM durable_tasks WHERE job = 'durable.fetch-url' AND status = 'succeeded'"
            #expect(try probe.int(succeeded) == 10)
            try probe.close()

            // The same batch again, from standard input, in another order, with the
            // output file spelled relative to another working directory: nothing to do.
            let bytes = try Data(contentsOf: URL(fileURLWithPath: out))
            let requests = server.totalRequests
            let again = try await durable(
                ["fetch", "-", "--out", "out.tsv", "--db", "fetch.sqlite", "--quiet"],
                standardInput: paths.reversed().map { server.url($0) }.joined(separator: "\n"), in: directory,
                workingDirectory: directory.path)
            #expect(again.status == 0, "\(again)")
            // --quiet: no progress lines, only the summary (engine log lines aside).
            let ownLines = again.standardError.split(separator: "\n").filter { $0.hasPrefix("durable fetch:") }
            #expect(ownLines.count == 1, "\(again)")
            #expect(again.summary.contains("10 of 10 URLs fetched, 0 failed"), "\(again)")
            #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == bytes)
            #expect(server.totalRequests == requests)
            let reprobe = try DatabaseProbe(path: db)
            #expect(try reprobe.int("SELECT count(*) FROM durable_tasks") == 10)
            #expect(try reprobe.int("SELECT count(*) FROM durable_task_attempts") == 10)
            try reprobe.close()

            // A removed output file that held bytes of its own cannot be written again
            // from the database: refused, saying why, and nothing is fetched or created.
            try FileManager.default.removeItem(atPath: out)
            let removed = try await durable(["fetch", list, "--out", out, "--db", db, "--quiet"], in: directory)
            #expect(removed.status == 2, "\(removed)")
            #expect(removed.standardError.contains("held 21 bytes before Durable first appended"), "\(removed)")
            #expect(!FileManager.default.fileExists(atPath: out))
            #expect(server.totalRequests == requests)
        }
    }

    @Test("404, 500, a redirect loop, an unreachable host and a timeout fail with no line; redirects are followed")
    func failuresAndRedirects() async throws {
        let directory = TemporaryDirectory()
        // A port that refuses connections: a server that was started, then stopped.
        let closed = try await TestHTTPServer.start()
        let closedPort = closed.port
        await closed.stop()
        try await withServer { server in
            let good = ["/item/1", "/redirect/3/7"]
            let bad = ["/status/404", "/status/500", "/loop"]
            let unreachable = "http://127.0.0.1:\(closedPort)/gone"
            let urls = (good + bad).map { server.url($0) } + [unreachable]
            let list = directory.file("urls.txt")
            try write(urls.joined(separator: "\n"), to: list)
            let out = directory.file("out.tsv")
            let db = directory.file("fetch.sqlite")

            let run = try await durable(
                ["fetch", list, "--out", out, "--db", db, "--retries", "1", "--retry-delay", "0.05"], in: directory)
            #expect(run.status == 1, "\(run)")
            #expect(run.summary.contains("2 of 6 URLs fetched, 4 failed"), "\(run)")
            #expect(run.standardError.contains("HTTP 404"), "\(run)")
            #expect(run.standardError.contains("HTTP 500"), "\(run)")
            #expect(run.standardError.contains("redirect"), "\(run)")
            #expect(run.standardError.contains("cannot connect to 127.0.0.1:\(closedPort)"), "\(run)")

            let digests = try await sha256sum([TestHTTPServer.body(for: 1), TestHTTPServer.body(for: 7)], in: directory)
            let expected: Set = [
                "\(urls[0])\t200\t\(TestHTTPServer.body(for: 1).count)\t\(digests[0])",
                "\(urls[1])\t200\t\(TestHTTPServer.body(for: 7).count)\t\(digests[1])",
            ]
            #expect(Set(try lines(of: out)) == expected)
            #expect(try lines(of: out).count == 2)
            // Server errors are retried; a 404 and a redirect loop are not.
            #expect(server.requests(to: "/redirect/3/7") == 1)
            #expect(server.requests(to: "/item/7") == 1)
            #expect(server.requests(to: "/status/404") == 1)
            #expect(server.requests(to: "/status/500") == 2)
            #expect(server.requests(to: "/loop") == 1)

            let probe = try DatabaseProbe(path: db)
            let errors = try probe.strings("SELECT error FROM durable_tasks WHERE status = 'failed' ORDER BY id")
            #expect(errors.count == 4)
            #expect(errors.contains { $0.contains("127.0.0.1:\(closedPort)") })
            try probe.close()

            // A response slower than --timeout fails the URL.
            let slow = directory.file("slow.txt")
            try write(server.url("/slow/60000/2"), to: slow)
            let late = try await durable(
                ["fetch", slow, "--out", out, "--db", db, "--timeout", "0.5", "--retries", "0"], in: directory)
            #expect(late.status == 1, "\(late)")
            let slowURL = server.url("/slow/60000/2")
            #expect(late.standardError.contains("GET \(slowURL): no complete response within 0.5 s"), "\(late)")
            #expect(late.summary.contains("0 of 1 URLs fetched, 1 failed"), "\(late)")
            #expect(try lines(of: out).count == 2)

            // Not following redirects records the 3xx response itself.
            let single = directory.file("single.txt")
            try write(server.url("/redirect/1/7"), to: single)
            let unfollowed = directory.file("unfollowed.tsv")
            let noRedirects = try await durable(
                ["fetch", single, "--out", unfollowed, "--db", db, "--max-redirects", "0"], in: directory)
            #expect(noRedirects.status == 0, "\(noRedirects)")
            let body = Array("see /item/7\n".utf8)
            let digest = try await sha256sum([body], in: directory)[0]
            #expect(try lines(of: unfollowed) == ["\(server.url("/redirect/1/7"))\t302\t\(body.count)\t\(digest)"])
        }
    }

    @Test("SIGKILLed twice mid-batch and run again: each URL's line exactly once, no partial line")
    func crashAndResume() async throws {
        let directory = TemporaryDirectory()
        try await withServer { server in
            let count = 150
            let paths = (0..<count).map { "/slow/30/\($0)" }
            let bodies = (0..<count).map { TestHTTPServer.body(for: $0) }
            let digests = try await sha256sum(bodies, in: directory)
            let expected = Set((0..<count).map { "\(server.url(paths[$0]))\t200\t\(bodies[$0].count)\t\(digests[$0])" })
            let list = directory.file("urls.txt")
            try write(paths.map { server.url($0) }.joined(separator: "\n"), to: list)
            let out = directory.file("out.tsv")
            let db = directory.file("fetch.sqlite")
            let arguments = ["fetch", list, "--out", out, "--db", db, "-j", "3"]

            for (round, threshold) in [25, 75].enumerated() {
                let child = try DurableProcess(arguments, in: directory, label: "fetch-\(round)")
                try await poll("\(out) has \(threshold) lines", child: child) {
                    try lines(of: out).count >= threshold
                }
                try await child.sigkill()
                // What a crash in the middle of a write leaves: a line cut short.
                try injectCrashedAppend("\(server.url("/slow/30/999"))\t200\t12345\tabc\n", cutAt: 40, to: out, db: db)
            }
            let lengthBefore = try lines(of: out).count
            #expect(lengthBefore < count + 1, "the batch must not have finished before the last kill")

            let last = try await durable(arguments, in: directory)
            #expect(last.status == 0, "\(last)")
            #expect(last.summary.contains("\(count) of \(count) URLs fetched, 0 failed"), "\(last)")
            let text = try String(contentsOfFile: out, encoding: .utf8)
            #expect(text.hasSuffix("\n"))
            let written = try lines(of: out)
            #expect(written.count == count)
            #expect(Set(written) == expected)
            #expect(!text.contains("/slow/30/999"))

            let probe = try DatabaseProbe(path: db)
            #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded'") == count)
            try probe.close()
        }
    }

    @Test("bad input: a one-line error naming the thing, a non-zero exit, nothing stored changed")
    func badInput() async throws {
        let directory = TemporaryDirectory()
        try await withServer { server in
            let out = directory.file("out.tsv")
            let db = directory.file("fetch.sqlite")
            let list = directory.file("urls.txt")
            try write(server.url("/item/1") + "\n" + server.url("/item/2") + "\n", to: list)
            let setUp = try await durable(["fetch", list, "--out", out, "--db", db], in: directory)
            #expect(setUp.status == 0, "\(setUp)")
            let stored = try Data(contentsOf: URL(fileURLWithPath: db))
            let written = try Data(contentsOf: URL(fileURLWithPath: out))

            func expectRefused(_ arguments: [String], naming thing: String, standardInput: String? = nil) async throws {
                let run = try await durable(arguments, standardInput: standardInput, in: directory)
                #expect(run.status != 0, "\(arguments): \(run)")
                let errorLines = run.standardError.split(separator: "\n")
                #expect(errorLines.count == 1, "\(arguments): \(run)")
                #expect(run.standardError.contains(thing), "\(arguments): \(run)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: db)) == stored, "\(arguments)")
                #expect(try Data(contentsOf: URL(fileURLWithPath: out)) == written, "\(arguments)")
            }

            try await expectRefused(
                ["fetch", directory.file("absent.txt"), "--out", out, "--db", db], naming: "absent.txt")
            let empty = directory.file("empty.txt")
            try write("\n  \n\n", to: empty)
            try await expectRefused(["fetch", empty, "--out", out, "--db", db], naming: "empty.txt has no URLs")
            try await expectRefused(
                ["fetch", "-", "--out", out, "--db", db], naming: "standard input has no URLs", standardInput: "")
            let malformed = directory.file("malformed.txt")
            try write(
                [server.url("/item/1"), "", "not a url", "ftp://example.com/x"].joined(separator: "\n"), to: malformed)
            try await expectRefused(
                ["fetch", malformed, "--out", out, "--db", db],
                naming: "malformed.txt, line 3: not an http or https URL")
            try await expectRefused(
                ["fetch", list, "--out", directory.file("missing-folder/out.tsv"), "--db", db],
                naming: "missing-folder")
            try await expectRefused(["fetch", list, "--out", directory.path, "--db", db], naming: "is a folder")

            // Databases that are not Durable's, or are newer than the tool.
            let notes = directory.file("notes.sqlite")
            let queue = try DatabaseQueue(path: notes)
            try await queue.write { db in
                try db.execute(sql: "CREATE TABLE notes (body TEXT); INSERT INTO notes VALUES ('mine')")
            }
            try queue.close()
            let notesBytes = try Data(contentsOf: URL(fileURLWithPath: notes))
            try await expectRefused(["fetch", list, "--out", out, "--db", notes], naming: "notes.sqlite")
            #expect(try Data(contentsOf: URL(fileURLWithPath: notes)) == notesBytes)

            let newer = directory.file("newer.sqlite")
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: db + suffix) {
                try FileManager.default.copyItem(atPath: db + suffix, toPath: newer + suffix)
            }
            let newerQueue = try DatabaseQueue(path: newer)
            try await newerQueue.write { db in
                try db.execute(
                    sql: "INSERT INTO durable_migrations (version, name, applied_at) VALUES (9999, 'future', 0)")
            }
            try newerQueue.close()
            let newerBytes = try Data(contentsOf: URL(fileURLWithPath: newer))
            try await expectRefused(["fetch", list, "--out", out, "--db", newer], naming: "newer.sqlite")
            #expect(try Data(contentsOf: URL(fileURLWithPath: newer)) == newerBytes)

            // Nothing was created for refused input either.
            let fresh = directory.file("fresh.sqlite")
            let refused = try await durable(
                ["fetch", malformed, "--out", directory.file("fresh.tsv"), "--db", fresh], in: directory)
            #expect(refused.status != 0)
            #expect(!FileManager.default.fileExists(atPath: fresh))
            #expect(!FileManager.default.fileExists(atPath: directory.file("fresh.tsv")))
        }
    }
}

/// Leaves in `out` what a `durable fetch` killed half-way through appending `line`
/// leaves: the line noted as pending in the database at the file's committed
/// length, and its first `cutAt` bytes in the file (replacing what the killed
/// process left there, itself the start of its pending line).
private func injectCrashedAppend(_ line: String, cutAt: Int, to out: String, db: String) throws {
    let queue = try DatabaseQueue(path: db)
    defer { try? queue.close() }
    let committed = try queue.write { db -> Int64 in
        let base = try Int64.fetchOne(db, sql: "SELECT base_length FROM durable_appended_files WHERE path = ?", arguments: [out])
        let end = try Int64.fetchOne(
            db, sql: "SELECT max(offset + length) FROM durable_file_appends WHERE path = ?", arguments: [out])
        let committed = max(base ?? 0, end ?? 0)
        try db.execute(
            sql: "INSERT OR REPLACE INTO durable_pending_appends (path, offset, line, task_id, created_at) VALUES (?, ?, ?, 0, 0)",
            arguments: [out, committed, Data(line.utf8)])
        return committed
    }
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    try handle.truncate(atOffset: UInt64(committed))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(line.utf8.prefix(cutAt)))
    try handle.close()
}
