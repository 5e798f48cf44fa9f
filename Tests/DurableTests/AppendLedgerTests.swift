import DurableTestKit
import Durable
import Foundation
import Testing

/// The ledger of appended lines never touches bytes it did not write: two
/// databases on one file, a full disk mid-line, a deleted file.
@Suite("Appending lines: what the ledger may touch")
struct AppendLedgerTests {
    @Test("two databases appending to one file: the second writer is refused, and no one's lines are cut")
    func twoDatabasesOneFile() async throws {
        let directory = TemporaryDirectory()
        let output = directory.file("shared.txt")
        let first = try await makeTestEngine(in: directory, file: "first.sqlite")
        let second = try await makeTestEngine(in: directory, file: "second.sqlite")
        for engine in [first, second] { engine.register(AppendLine()) }
        try await first.run { engine async throws -> Void in
            _ = try await engine.createTask(AppendLine.self, .init(path: output, line: "first 1")).value
        }
        try await second.run { engine async throws -> Void in
            _ = try await engine.createTask(AppendLine.self, .init(path: output, line: "second 1")).value
        }
        let both = try Data(contentsOf: URL(fileURLWithPath: output))
        #expect(String(decoding: both, as: UTF8.self) == "first 1\nsecond 1\n")

        // The first database finds bytes it did not write after its last line.
        let refusal = await #expect(throws: (any Error).self) { try await first.repairAppendedFile(at: output) }
        #expect("\(refusal.map { "\($0)" } ?? "")".contains("another program, or Durable with another database"))
        try await first.run { engine async throws -> Void in
            let task = try await engine.createTask(AppendLine.self, .init(path: output, line: "first 2"))
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("has 9 bytes after the 8 bytes of lines") == true)
            #expect(try await engine.record(of: task.id).attempt == 1, "not retried")
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == both, "nothing was changed")
        for engine in [first, second] { try engine.close() }
    }

    @Test("a file deleted after lines were appended is written again from the ledger; appends go on")
    func deletedFileRestored() async throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.txt")
        let engine = try await makeTestEngine(in: directory)
        engine.register(AppendLine())
        try await engine.run { engine async throws -> Void in
            for line in ["one", "two", "three"] {
                _ = try await engine.createTask(AppendLine.self, .init(path: output, line: line)).value
            }
        }
        let original = try Data(contentsOf: URL(fileURLWithPath: output))
        #expect(try await engine.restoreAppendedFile(at: output) == 0, "the file exists: nothing to do")
        try FileManager.default.removeItem(atPath: output)

        #expect(try await engine.restoreAppendedFile(at: output) == 3)
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == original)
        try await engine.run { engine async throws -> Void in
            _ = try await engine.createTask(AppendLine.self, .init(path: output, line: "four")).value
        }
        #expect(String(decoding: try Data(contentsOf: URL(fileURLWithPath: output)), as: UTF8.self) == "one\ntwo\nthree\nfour\n")
    }

    @Test("a deleted file that held bytes of its own before Durable appended cannot be rebuilt, and says why")
    func deletedFileWithOwnBytes() async throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.txt")
        try Data("# header\n".utf8).write(to: URL(fileURLWithPath: output))
        let engine = try await makeTestEngine(in: directory)
        engine.register(AppendLine())
        try await engine.run { engine async throws -> Void in
            _ = try await engine.createTask(AppendLine.self, .init(path: output, line: "one")).value
        }
        try FileManager.default.removeItem(atPath: output)
        let error = await #expect(throws: (any Error).self) { try await engine.restoreAppendedFile(at: output) }
        #expect("\(error.map { "\($0)" } ?? "")".contains("held 9 bytes before Durable first appended"))
        #expect(!FileManager.default.fileExists(atPath: output))
    }
}

/// A full disk while a line is being written.
@Suite("Appending lines on a full disk", .serialized, .enabled(if: SmallFilesystem.canMount))
struct AppendOnFullDiskTests {
    @Test("a line cut short by a full disk is removed at once: the file ends with its last whole line")
    func fullDiskMidLine() async throws {
        let directory = TemporaryDirectory()
        let disk = try SmallFilesystem(at: directory.file("disk"), megabytes: 1)
        let output = disk.file("out.txt")
        // 6 bytes short of a page: the next line's start fits, the rest needs a new page.
        let header = Data(repeating: UInt8(ascii: "#"), count: 4089) + Data("\n".utf8)
        try header.write(to: URL(fileURLWithPath: output))
        let engine = try await makeTestEngine(in: directory)
        engine.register(AppendLine())
        disk.fill()
        try await engine.run { engine async throws -> Void in
            let line = String(repeating: "x", count: 100)
            let task = try await engine.createTask(AppendLine.self, .init(path: output, line: line))
            await #expect(throws: StoredError.self) { try await task.value }
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == header)
        disk.free()
        try await engine.run { engine async throws -> Void in
            _ = try await engine.createTask(AppendLine.self, .init(path: output, line: "after")).value
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)) == header + Data("after\n".utf8))
        try engine.close()
    }
}
