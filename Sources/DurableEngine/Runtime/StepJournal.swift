import Synchronization

/// The checkpoints of one run of a task: what earlier runs stored (loaded on
/// first use), which of them this run has asked for, and where new ones go.
///
/// A checkpoint is found again by its name and its occurrence — how many
/// checkpoints of that name the run asked for before it (`fetch` #0, `fetch` #1,
/// ...), stored with it — never by the order in which calls reach the journal:
/// steps run concurrently under distinct names line up on every re-run,
/// whichever arrives first.
///
/// The code changed between runs (non-deterministic replay) when:
/// - a name and occurrence stored as one kind (a step) is asked for as the other
///   (a sleep): reported at once, before anything runs;
/// - the job returns without having asked for a stored checkpoint, although this
///   run asked for a new one, or for one that a later run stored: some run took
///   another path. Reported when the job returns, so that its result is not
///   stored as a success (see ``divergence()``).
final class StepJournal: Sendable {
    enum Slot {
        /// Stored by an earlier run: replay it.
        case replay(StoredStep)
        /// Not stored yet: run it, then store it with ``record(_:status:result:error:)``.
        case new(NewCheckpoint)
    }

    /// Where a new checkpoint goes, and what finds it again.
    struct NewCheckpoint: Sendable {
        var position: Int
        var name: String
        var occurrence: Int
        var kind: StepKind
        /// When the run asked for it.
        var startedAt: Int64
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
        var firstNew: (name: String, kind: StepKind)?
        /// A stored checkpoint this run asked for, from the latest run among them.
        var latestAsked: (attempt: Int, name: String, kind: StepKind)?
        /// Stored step failures this run threw again (they are never retried).
        var replayedFailures: [StoredError] = []

        mutating func install(_ steps: [StoredStep]) {
            for step in steps {
                byKey[Key(name: step.name, occurrence: step.occurrence)] = step
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
    func begin(_ name: String, kind: StepKind) async throws -> Slot {
        let steps = try await storedSteps()
        return try state.withLock { state in
            // Whoever gets here first installs what was read; the others find it
            // installed, so no caller sees a half-built journal.
            if !state.installed { state.install(steps) }
            let occurrence = state.occurrences[name, default: 0]
            state.occurrences[name] = occurrence + 1
            if let stored = state.byKey[Key(name: name, occurrence: occurrence)] {
                state.unasked[stored.position] = nil
                if stored.attempt > (state.latestAsked?.attempt ?? 0) {
                    state.latestAsked = (stored.attempt, stored.name, stored.kind)
                }
                guard stored.kind == kind else {
                    throw NonDeterministicReplay(
                        taskID: taskID, taskName: taskName, reason: .kindChanged, position: stored.position,
                        stored: "\(stored.kind.rawValue) \"\(stored.name)\"", requested: "\(kind.rawValue) \"\(name)\"")
                }
                return .replay(stored)
            }
            if state.firstNew == nil { state.firstNew = (name, kind) }
            let position = state.nextPosition
            state.nextPosition += 1
            return .new(
                NewCheckpoint(position: position, name: name, occurrence: occurrence, kind: kind, startedAt: clock.now()))
        }
    }

    /// Whether the runs of the task took different paths through its checkpoints:
    /// this run never asked for a stored checkpoint, but asked for a new one, or
    /// for one that a later run stored (which then took another path). Called when
    /// the job returned; `nil` when the job used no checkpoints.
    func divergence() -> NonDeterministicReplay? {
        state.withLock { state in
            guard let skipped = state.unasked.min(by: { $0.key < $1.key })?.value else { return nil }
            let requested: String
            if let new = state.firstNew {
                requested = "\(new.kind.rawValue) \"\(new.name)\""
            } else if let later = state.latestAsked, later.attempt > skipped.attempt {
                requested = "\(later.kind.rawValue) \"\(later.name)\" (stored by attempt \(later.attempt))"
            } else {
                return nil
            }
            return NonDeterministicReplay(
                taskID: taskID, taskName: taskName, reason: .pathChanged, position: skipped.position,
                stored: "\(skipped.kind.rawValue) \"\(skipped.name)\"", requested: requested)
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

    /// Stores a new checkpoint of this run. Throws when the run lost its task.
    func record(_ checkpoint: NewCheckpoint, status: TaskStatus, result: String?, error: StoredError?) async throws {
        let step = StoredStep(
            position: checkpoint.position, name: checkpoint.name, occurrence: checkpoint.occurrence,
            kind: checkpoint.kind, status: status, result: result, error: error, attempt: attempt,
            startedAt: checkpoint.startedAt)
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
