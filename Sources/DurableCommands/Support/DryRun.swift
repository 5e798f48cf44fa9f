import Durable
import Foundation

/// `durable run --dry-run`: what a run of the batch would do, read from the
/// database without changing it (read-only; a missing database means every line
/// would run).
enum DryRun {
    /// What is known of one line.
    enum State: String {
        case succeeded, failed, cancelled, running, pending
        /// No task yet: the line would run.
        case new = "would run"
    }

    /// Prints one line per batch line and a summary on standard output.
    static func report(_ batch: RunBatch, database: DatabaseOption) async throws {
        var tasksByKey: [String: TaskRecord] = [:]
        if let engine = try await openIfStored(database) {
            defer { try? engine.close() }
            tasksByKey = try await BatchTasks.storedTasksByKey(of: batch, on: engine)
        }
        var counts: [State: Int] = [:]
        for line in batch.lines {
            let record = tasksByKey[batch.key(of: line)] ?? tasksByKey[batch.legacyKey(of: line)]
            let state = record.map { State(rawValue: $0.status.rawValue) ?? .pending } ?? .new
            counts[state, default: 0] += 1
            print("line \(line.number): \(state.rawValue): \(RunLedger.abbreviated(line.command, to: 120))")
        }
        let order: [State] = [.succeeded, .failed, .cancelled, .running, .pending, .new]
        let parts = order.compactMap { state in counts[state].map { "\($0) \(state.rawValue)" } }
        let runs = counts[.new, default: 0] + counts[.pending, default: 0] + counts[.running, default: 0]
        print(
            "durable run --dry-run: \(batch.lines.count) lines: \(parts.joined(separator: ", ")); a run would run "
                + "\(runs) (--retry-failed: also the \(counts[.failed, default: 0] + counts[.cancelled, default: 0]) "
                + "failed or cancelled); nothing was changed")
    }

    /// The database opened read-only, or `nil` when nothing is stored there yet: no
    /// file, or (PostgreSQL) no Durable schema.
    private static func openIfStored(_ database: DatabaseOption) async throws -> TaskEngine? {
        guard database.isPostgres else {
            guard FileManager.default.fileExists(atPath: database.given) else { return nil }
            return try await openForReading(database)
        }
        do {
            return try await openForReading(database)
        } catch let error as DurableError where error.code == .schemaTooOld {
            // The only PostgreSQL schema older than this build's is none at all
            // (migrations/postgres has one migration), which `durable run` creates.
            return nil
        }
    }
}
