import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import Testing

/// Lines appended to files exactly once (context.appendLine and AppendLine).
@Suite("Appending lines exactly once")
struct AppendLineTests {
    private func lines(_ path: String) throws -> [String] {
        let text = try String(contentsOfFile: path, encoding: .utf8)
        return text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    }

    @Test("a re-run does not append again; each call of a task appends once")
    func rerunDoesNotDuplicate() async throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.txt")
        let engine = try await makeTestEngine(in: directory)
        engine.register(AppendsTwice(path: output))
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(AppendsTwice.self, "a")
            #expect(try await task.value == 8)
            #expect(try await engine.record(of: task.id).attempt == 2)
            #expect(try await engine.appends(of: task.id).map(\.offset) == [0, 8])
        }
        #expect(try lines(output) == ["a first", "a second", ""])
    }

    @Test("bytes left by an append that crashed before it was recorded are cut off; earlier content is kept")
    func crashedTailIsCut() async throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.txt")
        try Data("kept from before\n".utf8).write(to: URL(fileURLWithPath: output))
        let engine = try await makeTestEngine(in: directory)
        engine.register(AppendLine())
        try await engine.run { engine async throws -> Void in
            _ = try await engine.createTask(AppendLine.self, .init(path: output, line: "one")).value
            // A crashed append: the line noted as pending, half of it written, never recorded.
            try await simulateCrashedAppend("half a line", to: output, engine: engine)
            _ = try await engine.createTask(AppendLine.self, .init(path: output, line: "two")).value
        }
        #expect(try lines(output) == ["kept from before", "one", "two", ""])

        // repair cuts a crashed tail without appending anything.
        try await simulateCrashedAppend("partial line", to: output, engine: engine)
        #expect(try await engine.repairAppendedFile(at: output) == 6)
        #expect(try lines(output) == ["kept from before", "one", "two", ""])
        #expect(try await engine.repairAppendedFile(at: output) == 0)
    }

    @Test("lines of many concurrent tasks, through different spellings of the path, each appear once, whole")
    func concurrentAppends() async throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.txt")
        let engine = try await makeTestEngine(in: directory) { $0.maxConcurrentTasks = 16 }
        engine.register(AppendLine())
        try await engine.run { engine async throws -> Void in
            let requests = (0..<200).map { index in
                TaskRequest(AppendLine.Input(
                    path: index.isMultiple(of: 2) ? output : "\(directory.path)/./out.txt", line: "line \(index)"))
            }
            _ = try await engine.gather(try await engine.createTasks(AppendLine.self, requests))
        }
        let written = try lines(output).dropLast()
        #expect(written.count == 200)
        #expect(Set(written) == Set((0..<200).map { "line \($0)" }))
    }

    @Test("a line holding a newline is refused")
    func newlineRefused() async throws {
        let directory = TemporaryDirectory()
        let engine = try await makeTestEngine(in: directory)
        engine.register(AppendLine())
        try await engine.run { engine async throws -> Void in
            let task = try await engine.createTask(AppendLine.self, .init(path: directory.file("x"), line: "a\nb"))
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("newline") == true)
        }
    }
}

extension AppendLineTests {
    @Test("a file shortened outside Durable is refused instead of getting a hole")
    func shortenedFileRefused() async throws {
        let directory = TemporaryDirectory()
        let output = directory.file("out.txt")
        let engine = try await makeTestEngine(in: directory)
        engine.register(AppendLine())
        try await engine.run { engine async throws -> Void in
            _ = try await engine.createTask(AppendLine.self, .init(path: output, line: "first line")).value
            try Data().write(to: URL(fileURLWithPath: output))
            let task = try await engine.createTask(AppendLine.self, .init(path: output, line: "second"))
            let error = await #expect(throws: StoredError.self) { try await task.value }
            #expect(error?.message.contains("truncated or replaced outside Durable") == true)
        }
        #expect(try Data(contentsOf: URL(fileURLWithPath: output)).isEmpty)
        await #expect(throws: (any Error).self) { try await engine.repairAppendedFile(at: output) }
    }
}

/// What an append that crashed half-way leaves: its line noted as pending in the
/// ledger, and the first half of its bytes in the file.
func simulateCrashedAppend(_ line: String, to path: String, engine: TaskEngine) async throws {
    let canonical = AppendedFile.canonicalPath(path)
    let store = try engine.appendingStore("simulate a crashed append")
    let offset = try #require(try await store.committedLength(of: canonical))
    let bytes = Array((line + "\n").utf8)
    try await store.notePendingAppend(
        PendingAppend(path: canonical, offset: offset, line: bytes, task: TaskID(1)), now: 0)
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
    try handle.seekToEnd()
    try handle.write(contentsOf: Data(bytes.prefix(bytes.count / 2)))
    try handle.close()
}
