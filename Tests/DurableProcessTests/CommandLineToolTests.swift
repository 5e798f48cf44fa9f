import DurableTestKit
import Durable
import Foundation
import GRDB
import Testing

/// The built `durable` binary (for now `--version` and `schema`; the full tool is
/// its own work), run as a user would.
@Suite("The durable command")
struct CommandLineToolTests {
    private func durable(_ arguments: String...) async throws -> DurableToolOutput {
        try await runDurableTool(arguments)
    }

    @Test("--version names the build and the schema version")
    func version() async throws {
        let output = try await durable("--version")
        #expect(output.status == 0)
        #expect(output.standardOutput.contains("durable \(DurableVersion.current) (schema \(DurableVersion.schemaVersion))"))
    }

    @Test("schema prints the applied migrations of a database, and changes nothing")
    func schema() async throws {
        let directory = TemporaryDirectory()
        let path = directory.file("test.sqlite")
        _ = try makeEngine(in: directory)
        let before = try Data(contentsOf: URL(fileURLWithPath: path))
        let output = try await durable("schema", "--db", path)
        #expect(output.status == 0)
        #expect(output.standardOutput.contains("1  initial"))
        #expect(output.standardOutput.contains("schema version \(DurableVersion.schemaVersion)"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == before)
    }

    @Test("schema on a missing or non-Durable file fails with one line naming it")
    func schemaErrors() async throws {
        let directory = TemporaryDirectory()
        let missing = try await durable("schema", "--db", directory.file("absent.sqlite"))
        #expect(missing.status != 0)
        #expect(missing.standardError.contains("absent.sqlite"))
        #expect(!FileManager.default.fileExists(atPath: directory.file("absent.sqlite")))

        let notes = directory.file("notes.txt")
        try Data(String(repeating: "plain text\n", count: 100).utf8).write(to: URL(fileURLWithPath: notes))
        let garbage = try await durable("schema", "--db", notes)
        #expect(garbage.status != 0)
        #expect(garbage.standardError.contains("notes.txt is not an SQLite database"))
    }
}
