/// How one run (attempt) of a task ended, spelled as in `task_attempts.outcome`.
public enum AttemptOutcome: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// The job returned; the task succeeded.
    case succeeded
    /// The job threw: the task failed, or waits for its next attempt.
    case failed
    /// The run was cancelled; the task is cancelled.
    case cancelled
    /// The worker stopped (a shutdown) and handed the task back as pending.
    case interrupted
    /// The run's owner died or its lease expired; the task was recovered.
    case abandoned
    /// The job entered a long durable sleep; the task is pending until it ends.
    case suspended

    /// Whether the run counts as a failure toward the retry policy's attempts.
    public var isFailure: Bool { self == .failed }

    /// The outcome of a run that ended its task with `status` (succeeded,
    /// failed or cancelled).
    package init(ending status: TaskStatus) {
        switch status {
        case .succeeded: self = .succeeded
        case .cancelled: self = .cancelled
        case .failed, .pending, .running: self = .failed
        }
    }

    public var description: String { rawValue }
}

/// What a checkpoint inside a task is, spelled as in `task_steps.kind`.
public enum StepKind: String, Sendable, Codable, CaseIterable, CustomStringConvertible {
    /// A `context.step` with its result or failure.
    case step
    /// A durable sleep with its wake-up time.
    case sleep

    public var description: String { rawValue }
}

/// The state of a stored task group, spelled as in `task_groups.state`.
package enum GroupState: String, Sendable, CaseIterable {
    /// Accepts new tasks.
    case open
    /// A task failed or the group was shut down: accepts no more tasks, its
    /// unfinished ones are being cancelled.
    case shuttingDown = "shutting_down"
    /// Every task finished and the group was closed.
    case finished
}

/// Reads a stored word (a status, an outcome, a kind) into its enum, and names
/// the row and the value when it is none of the known ones (a row edited by
/// hand, or written by a newer Durable): never guessed, never mapped to
/// another value.
package enum StoredWord {
    /// - Throws: ``DurableError/Code/invalidRow``: "task 7 has outcome 'lost', which
    ///   is not one of succeeded, failed, ...".
    package static func decode<Word: RawRepresentable & CaseIterable>(
        _ type: Word.Type, _ stored: String, column: String, of row: String
    ) throws -> Word where Word.RawValue == String {
        guard let word = Word(rawValue: stored) else {
            throw DurableError(
                .invalidRow,
                "\(row) has \(column) '\(stored)', which is not one of "
                    + Word.allCases.map(\.rawValue).joined(separator: ", "))
        }
        return word
    }
}
