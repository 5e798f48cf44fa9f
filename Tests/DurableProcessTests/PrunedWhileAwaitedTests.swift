import DurableTestKit
import Durable
import Foundation
import Testing

/// Tasks deleted by `prune` while something awaits them: the wait ends with an
/// error naming them instead of waiting forever, and `durable run` goes on.
@Suite("Pruned while awaited")
struct PrunedWhileAwaitedTests {
    @Test("durable run tolerates its lines being pruned while it runs; each line is reported once")
    func pruneDuringRun() async throws {
        let directory = TemporaryDirectory()
        let database = directory.file("run.sqlite")
        let commands = directory.file("commands.txt")
        try Data(((1...300).map { "true \($0)" }.joined(separator: "\n") + "\n").utf8).write(
            to: URL(fileURLWithPath: commands))
        let runner = try ChildProcess(
            "durable-run", executable: try ChildProcess.durableExecutable(),
            arguments: ["run", commands, "--db", database, "-j", "4", "--quiet"], output: directory.file("run.out"))
        var prunes = 0
        var failures: [String] = []
        while runner.isRunning {
            let pruned = try await runDurableTool(["prune", "--db", database, "--finished-before", "0s"])
            if pruned.status == 0 { prunes += 1 } else { failures.append("\(pruned.status): \(pruned.standardError)") }
        }
        let (status, signalled) = try await runner.waitForExit(timeout: .seconds(120))
        let output = runner.fullOutput
        #expect(!signalled && status == 0, "\(output)")
        let summary = output.split(separator: "\n").last.map(String.init) ?? ""
        #expect(summary.contains("succeeded, 0 failed"), "\(summary)")
        #expect(!output.contains("no task has id"), "\(output)")
        #expect(prunes > 0, "no prune succeeded while the run ran: \(failures)")
    }
}
