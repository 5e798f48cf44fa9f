import Synchronization

/// The checkpoints of one run of a task: what earlier runs stored (loaded on
/// first use), which of them this run has asked for, and where new ones go.
///
/// A checkpoint is found again by its name and how many checkpoints of that name
/// this run asked for before it (`fetch` #0, `fetch` #1, ...), never by the order
/// in which calls reach the journal: steps run concurrently under distinct names
/// line up on every re-run, whichever arrives first.
///
/// The code changed between runs (non-deterministic replay) when:
/// - a name and occurrence stored as one kind (a step) is asked for as the other
///   (a sleep): reported at once, before anything runs;
/// - a run asked for a checkpoint that no earlier run stored, and returned without
///   ever asking for one that an earlier run did store: reported when the job
///   returns, so its result is not stored as a success (see ``unansweredHistory()``).
final class StepJournal: Sendable {
    enum Slot {
        /// Stored by an earlier run: replay it.
        case replay(StoredStep)
        /// Not stored yet: run it and store it at `position`.
        case new(position: Int)
    }

    private struct Key: Hashable {
        var name: String
        var occurrence: Int
    }

    private struct State {
        /// Whether the stored checkpoints are installed below (once per run).
        var installed = false
        var byKey: [Key: StoredStep] = [:]
        /// Stored checkpoints this run has not asked for yet, by position.
        var unasked: [Int: StoredStep] = [:]
        var occurrences: [String: Int] = [:]
        var childOccurrences: [String: Int] = [:]
        var nextPosition = 0
        /// The first checkpoint this run asked for that no earlier run stored.
        var firstNew: (name: String, kind: StoredStep.Kind)?
        /// Stored step failures this run threw again (they are never retried).
        var replayedFailures: [StoredError] = []

        mutating func install(_ steps: [StoredStep]) {
            var seen: [String: Int] = [:]
            for step in steps {
                let occurrence = seen[step.name, default: 0]
                seen[step.name] = occurrence + 1
                byKey[Key(name: step.name, occurrence: occurrence)] = step
                unasked[step.position] = step
            }
            nextPosition = (steps.map(\.position).max() ?? -1) + 1
            installed = true
        }
    }

    let taskID: TaskID
    let taskName: String
    let owner: String
    let attempt: Int
    private let store: any TaskStore
    private let clock: any TaskClock
    private let state = Mutex(State())
    /// The one read of the stored checkpoints, shared by every caller of this run.
    private let loading = Mutex<Task<[StoredStep], any Error>?>(nil)

    init(taskID: TaskID, taskName: String, owner: String, attempt: Int, store: any TaskStore, clock: any TaskClock) {
        self.taskID = taskID
        self.taskName = taskName
        self.owner = owner
        self.attempt = attempt
        self.store = store
        self.clock = clock
    }

    /// The earlier runs' checkpoints, read once per run, on first use. Every
    /// caller waits for the same read.
    private func storedSteps() async throws -> [StoredStep] {
        let task = loading.withLock { loading in
            if let task = loading { return task }
            let task = Task { [store, taskID] in try await store.steps(of: taskID) }
            loading = task
            return task
        }
        return try await task.value
    }

    /// Finds the checkpoint for the next call of `name`, or reserves a position
    /// for a new one. Throws ``NonDeterministicReplay`` when the stored checkpoint
    /// of that name and occurrence is of another kind.
    func begin(_ name: String, kind: StoredStep.Kind) async throws -> Slot {
        let steps = try await storedSteps()
        return try state.withLock { state in
            // Whoever gets here first installs what was read; the others find it
            // installed, so no caller sees a half-built journal.
            if !state.installed { state.install(steps) }
            let occurrence = state.occurrences[name, default: 0]
            state.occurrences[name] = occurrence + 1
            if let stored = state.byKey[Key(name: name, occurrence: occurrence)] {
                state.unasked[stored.position] = nil
                guard stored.kind == kind else {
                    throw NonDeterministicReplay(
                        taskID: taskID, taskName: taskName, position: stored.position,
                        stored: "\(stored.kind.rawValue) \"\(stored.name)\"", requested: "\(kind.rawValue) \"\(name)\"")
                }
                return .replay(stored)
            }
            if state.firstNew == nil { state.firstNew = (name, kind) }
            let position = state.nextPosition
            state.nextPosition += 1
            return .new(position: position)
        }
    }

    /// Whether this run diverged from the stored history: it asked for a new
    /// checkpoint and never for a stored one (the earliest is named). Called when
    /// the job returned; `nil` when the job used no checkpoints.
    func unansweredHistory() -> NonDeterministicReplay? {
        state.withLock { state in
            guard let new = state.firstNew, let skipped = state.unasked.min(by: { $0.key < $1.key })?.value else {
                return nil
            }
            return NonDeterministicReplay(
                taskID: taskID, taskName: taskName, position: skipped.position,
                stored: "\(skipped.kind.rawValue) \"\(skipped.name)\"", requested: "\(new.kind.rawValue) \"\(new.name)\"")
        }
    }

    /// Notes that a replayed step throws `failure` again, and returns it.
    func replayingFailure(_ failure: StoredError) -> StoredError {
        state.withLock { $0.replayedFailures.append(failure) }
        return failure
    }

    /// Whether `error` is a stored step failure this run threw again: it was
    /// ``NonRetryable`` when first thrown, so the task is not retried for it.
    func isReplayedFailure(_ error: any Error) -> Bool {
        guard let stored = error as? StoredError else { return false }
        return state.withLock { $0.replayedFailures.contains(stored) }
    }

    /// Stores a checkpoint of this run. Throws when the run lost its task.
    func record(_ step: StoredStep) async throws {
        let stored = try await store.recordStep(step, of: taskID, owner: owner, attempt: attempt, now: clock.now())
        guard stored else {
            throw DurableError(
                .invalidState,
                "task \(taskID) (\(taskName)) is no longer run by this worker (attempt \(attempt)); "
                    + "step \"\(step.name)\" was not stored")
        }
    }

    /// The occurrence number of the next child, group or append under `identity`.
    func nextOccurrence(_ identity: String) -> Int {
        state.withLock { state in
            let occurrence = state.childOccurrences[identity, default: 0]
            state.childOccurrences[identity] = occurrence + 1
            return occurrence
        }
    }
}

/// A re-run of a job asked for other checkpoints than an earlier run stored: the
/// job's code changed (or depends on something that is not replayed). The task
/// fails; it is never retried.
///
/// Reported when a checkpoint stored as a step is asked for as a sleep (or the
/// other way round), and when a run that asked for a checkpoint no earlier run
/// stored returns without ever asking for one that an earlier run stored.
public struct NonDeterministicReplay: NonRetryable, CustomStringConvertible, Hashable {
    /// The task whose run diverged.
    public var taskID: TaskID
    /// Its name.
    public var taskName: String
    /// The position of the stored checkpoint.
    public var position: Int
    /// What an earlier run stored there, such as `step "fetch"`.
    public var stored: String
    /// What the code asked for instead.
    public var requested: String

    public var description: String {
        "non-deterministic replay of task \(taskID) (\(taskName)): an earlier run stored \(stored) at position "
            + "\(position), but the code now asks for \(requested) instead"
    }
}
