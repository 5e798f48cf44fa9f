import Synchronization

/// The checkpoints of one run of a task: what earlier runs stored (loaded on
/// first use), which of them this run has replayed, and where new ones go.
///
/// A checkpoint is found again by its name and how many checkpoints of that name
/// came before it in the run (`fetch` #0, `fetch` #1, ...), never by completion
/// order, so steps run concurrently under distinct names line up on every re-run.
/// A new checkpoint requested while a stored one at the same or an earlier call
/// position was never asked for means the code changed: non-deterministic replay.
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
        var stored: [StoredStep] = []
        var byKey: [Key: StoredStep] = [:]
        var consumed: Set<Int> = []
        var calls = 0
        var occurrences: [String: Int] = [:]
        var childOccurrences: [String: Int] = [:]
        var nextPosition = 0
    }

    let taskID: TaskID
    let taskName: String
    let owner: String
    let attempt: Int
    private let store: any TaskStore
    private let clock: any TaskClock
    private let state = Mutex(State())
    private let loading = Mutex<Task<[StoredStep], any Error>?>(nil)

    init(taskID: TaskID, taskName: String, owner: String, attempt: Int, store: any TaskStore, clock: any TaskClock) {
        self.taskID = taskID
        self.taskName = taskName
        self.owner = owner
        self.attempt = attempt
        self.store = store
        self.clock = clock
    }

    /// The earlier runs' checkpoints, read once per run, on first use.
    private func load() async throws {
        let task = loading.withLock { loading -> (Task<[StoredStep], any Error>, Bool) in
            if let task = loading { return (task, false) }
            let task = Task { [store, taskID] in try await store.steps(of: taskID) }
            loading = task
            return (task, true)
        }
        let steps = try await task.0.value
        guard task.1 else { return }
        state.withLock { state in
            state.stored = steps
            var seen: [String: Int] = [:]
            for step in steps {
                let occurrence = seen[step.name, default: 0]
                seen[step.name] = occurrence + 1
                state.byKey[Key(name: step.name, occurrence: occurrence)] = step
            }
            state.nextPosition = (steps.map(\.position).max() ?? -1) + 1
        }
    }

    /// Finds the checkpoint for the next call of `name`, or reserves a position
    /// for a new one. Throws ``NonDeterministicReplay`` when the code changed.
    func begin(_ name: String, kind: StoredStep.Kind) async throws -> Slot {
        try await load()
        return try state.withLock { state in
            let call = state.calls
            state.calls += 1
            let occurrence = state.occurrences[name, default: 0]
            state.occurrences[name] = occurrence + 1
            if let stored = state.byKey[Key(name: name, occurrence: occurrence)] {
                state.consumed.insert(stored.position)
                guard stored.kind == kind else {
                    throw NonDeterministicReplay(
                        taskID: taskID, taskName: taskName, position: stored.position,
                        stored: "\(stored.kind.rawValue) \"\(stored.name)\"", requested: "\(kind.rawValue) \"\(name)\"")
                }
                return .replay(stored)
            }
            if let skipped = state.stored.first(where: { $0.position <= call && !state.consumed.contains($0.position) }) {
                throw NonDeterministicReplay(
                    taskID: taskID, taskName: taskName, position: skipped.position,
                    stored: "\(skipped.kind.rawValue) \"\(skipped.name)\"", requested: "\(kind.rawValue) \"\(name)\"")
            }
            let position = state.nextPosition
            state.nextPosition += 1
            return .new(position: position)
        }
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

/// A re-run of a job asked for a different checkpoint than the one an earlier
/// run stored at that position: the job's code changed (or depends on something
/// that is not replayed). The task fails; it is never retried.
public struct NonDeterministicReplay: NonRetryable, CustomStringConvertible, Hashable {
    public var taskID: TaskID
    public var taskName: String
    /// The position of the stored checkpoint.
    public var position: Int
    /// What an earlier run stored there.
    public var stored: String
    /// What the code asked for instead.
    public var requested: String

    public var description: String {
        "non-deterministic replay of task \(taskID) (\(taskName)): an earlier run stored \(stored) at position "
            + "\(position), but the code now asks for \(requested)"
    }
}
