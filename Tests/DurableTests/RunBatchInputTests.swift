import Durable
import Foundation
import Testing

/// `durable run` runs each line's exact text, or refuses the batch: never a
/// different command than the one written.
@Suite("durable run: the exact bytes of each line")
struct RunBatchInputTests {
    @Test(
        "a line that no command can carry unchanged refuses the batch with its line number; nothing is stored or run",
        arguments: [
            (Array("echo one\ntouch caf".utf8) + [0xE9] + Array(".txt\n".utf8), "line 2", "not valid UTF-8"),
            (Array("echo a".utf8) + [0] + Array("b > f\n".utf8), "line 1", "NUL byte"),
            ((0..<3000).map { UInt8(truncatingIfNeeded: $0 &* 7919 &+ 13) }, "line", "commands.txt"),
        ])
    func refused(bytes: [UInt8], line: String, reason: String) async throws {
        let directory = TemporaryDirectory()
        let file = directory.file("commands.txt")
        try Data(bytes).write(to: URL(fileURLWithPath: file))
        let database = directory.file("run.sqlite")
        let result = try runDurableTool(["run", file, "--db", database])
        #expect(result.status == 2, "\(result)")
        #expect(result.standardError.contains(line) && result.standardError.contains(reason), "\(result)")
        #expect(result.standardError.contains("nothing was stored or run"), "\(result)")
        #expect(!FileManager.default.fileExists(atPath: database))
        #expect(!FileManager.default.fileExists(atPath: directory.file("café.txt")))
        #expect(!FileManager.default.fileExists(atPath: directory.file("f")))
    }

    @Test("unicode, quotes and CRLF endings run as written")
    func exactText() async throws {
        let directory = TemporaryDirectory()
        let out = directory.file("out")
        let file = directory.file("commands.txt")
        let lines = ["printf '%s\\n' 'café ☕ \"quoted\"' >> \(out)\r", "printf '%s\\n' \"it's\" >> \(out)"]
        try Data((lines.joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: file))
        let result = try runDurableTool(["run", file, "--db", directory.file("run.sqlite"), "-j", "1", "--quiet"])
        #expect(result.status == 0, "\(result)")
        #expect(try String(contentsOfFile: out, encoding: .utf8) == "café ☕ \"quoted\"\nit's\n")
    }
}

/// One convention across commands.
@Suite("durable: conventions across commands")
struct CommandConventionTests {
    @Test("--db naming a directory says so, in every kind of command")
    func databaseIsADirectory() async throws {
        let directory = TemporaryDirectory()
        let list = directory.file("urls.txt")
        try Data("http://127.0.0.1:9/x\n".utf8).write(to: URL(fileURLWithPath: list))
        let commands = directory.file("commands.txt")
        try Data("true\n".utf8).write(to: URL(fileURLWithPath: commands))
        for arguments in [
            ["ls", "--db", directory.path], ["stats", "--db", directory.path],
            ["run", commands, "--db", directory.path], ["fetch", list, "--out", directory.file("o"), "--db", directory.path],
        ] {
            let result = try runDurableTool(arguments)
            #expect(result.status != 0, "\(arguments): \(result)")
            #expect(result.standardError.contains("\(directory.path) is a directory"), "\(arguments): \(result)")
        }
    }

    @Test("fetch takes -q and durations with units for --timeout and --retry-delay")
    func fetchOptions() async throws {
        let directory = TemporaryDirectory()
        let list = directory.file("urls.txt")
        // A refused connection: the run ends quickly, with one failed URL.
        try Data("http://127.0.0.1:9/x\n".utf8).write(to: URL(fileURLWithPath: list))
        let result = try runDurableTool([
            "fetch", list, "--out", directory.file("out.tsv"), "--db", directory.file("f.sqlite"), "-q",
            "--timeout", "10s", "--retry-delay", "250ms", "--retries", "0",
        ])
        #expect(result.status == 1, "\(result)")
        #expect(result.standardError.contains("0 of 1 URLs fetched, 1 failed"), "\(result)")
        let refused = try runDurableTool(["fetch", list, "--out", directory.file("out.tsv"), "--timeout", "2d"])
        #expect(refused.status != 0 && refused.standardError.contains("--timeout"), "\(refused)")
    }
}
