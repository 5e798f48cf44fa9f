import DurableTestKit
import Durable
import Foundation
import Testing

/// `durable run` on a full disk.
@Suite("A full disk under a running worker", .serialized, .enabled(if: SmallFilesystem.canMount))
struct StoreFailureTests {
    @Test("durable run on a full disk stops with exit 75 and a line naming the cause; run again, it finishes the batch")
    func durableRunOnFullDisk() async throws {
        let directory = TemporaryDirectory()
        let disk = try SmallFilesystem(at: directory.file("disk"), megabytes: 16)
        let database = disk.file("run.sqlite")
        let go = directory.file("go")
        // Two lines wait for the go file (saying so first); the others end at once.
        let gated = (1...2).map { n in
            "touch \(directory.file("started-\(n)")); while [ ! -e \(go) ]; do sleep 0.01; done; echo gated \(n)"
        }
        let quick = (1...10).map { "echo quick \($0)" }
        let commands = directory.file("commands.txt")
        try Data(((quick + gated).joined(separator: "\n") + "\n").utf8).write(to: URL(fileURLWithPath: commands))
        let arguments = ["run", commands, "--db", database, "-j", "4", "--store-timeout", "1s", "--quiet"]

        let first = try ChildProcess(
            "durable-run-1", executable: ChildProcess.durableExecutable(), arguments: arguments,
            output: directory.file("run-1.out"))
        try await poll("both gated lines run", child: first) {
            FileManager.default.fileExists(atPath: directory.file("started-1"))
                && FileManager.default.fileExists(atPath: directory.file("started-2"))
        }
        disk.fill()
        #expect(FileManager.default.createFile(atPath: go, contents: nil))
        let (status, signalled) = try await first.waitForExit(timeout: .seconds(120))
        let output = first.fullOutput
        #expect(!signalled && status == 75, "\(output)")
        #expect(output.contains("could not store its work for 1"), "\(output)")
        #expect(output.contains("\(database) is full"), "\(output)")
        #expect(output.contains("durable run: stopped; nothing stored is lost"), "\(output)")

        disk.free()
        let second = try ChildProcess(
            "durable-run-2", executable: ChildProcess.durableExecutable(), arguments: arguments,
            output: directory.file("run-2.out"))
        try await second.expectCleanExit(timeout: .seconds(120))
        let probe = try DatabaseProbe(path: database)
        defer { try? probe.close() }
        #expect(try probe.int("SELECT count(*) FROM durable_tasks WHERE status = 'succeeded'") == 12)
        #expect(second.fullOutput.contains("12 succeeded, 0 failed"), "\(second.fullOutput)")
    }
}
