import Durable
import Foundation

/// `durable run --joblog FILE`: one tab-separated row per line of the batch, as
/// GNU parallel's `--joblog` gives: where the line is, how its last run ended,
/// how long it took, how many attempts it had, and the command.
///
///     line	status	exit	signal	seconds	attempts	command
///     3	failed	1		0.012	2	false
enum Joblog {
    static let header = ["line", "status", "exit", "signal", "seconds", "attempts", "command"]

    /// Writes the joblog of `lines` (replacing `path`).
    static func write(
        to path: String, lines: [RunBatch.Line], results: [Int: RunLedger.LineResult], attempts: [Int: Int]
    ) throws {
        var text = header.joined(separator: "\t") + "\n"
        for (index, line) in lines.enumerated() {
            let (status, outcome) = describe(results[index])
            let fields = [
                "\(line.number)", status, outcome?.exitCode.map { "\($0)" } ?? "", outcome?.signal.map { "\($0)" } ?? "",
                outcome.map { String(format: "%.3f", Double($0.durationMs) / 1000) } ?? "",
                "\(attempts[index] ?? 0)", line.command.replacingOccurrences(of: "\t", with: " "),
            ]
            text += fields.joined(separator: "\t") + "\n"
        }
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
        } catch {
            throw CommandError("cannot write --joblog \(path): \(error.localizedDescription)")
        }
    }

    private static func describe(_ result: RunLedger.LineResult?) -> (String, ShellOutcome?) {
        switch result {
        case .succeeded(let outcome): ("succeeded", outcome)
        case .failed(_, let outcome): ("failed", outcome)
        case .cancelled: ("cancelled", nil)
        case .pruned: ("pruned", nil)
        case nil: ("not finished", nil)
        }
    }
}
