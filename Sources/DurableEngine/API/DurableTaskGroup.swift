import Synchronization

/// The group handed to the body of ``TaskEngine/withTaskGroup(name:key:_:)``:
/// creates child tasks stored as members of the group.
///
/// In a group created with a key, children created without a key get one derived
/// from the group's key and their position (`<group key>#1`, `#2`, ...), so a
/// re-run of the same program re-attaches to the children it created before.
public final class DurableTaskGroup: Sendable {
    /// The stored group.
    public let id: GroupID
    /// The stored name.
    public let name: String
    let key: String?
    let engine: TaskEngine
    let watch: CompletionWatch
    private let state = Mutex<(created: Int, finished: Bool)>((0, false))

    init(id: GroupID, name: String, key: String?, engine: TaskEngine, watch: CompletionWatch) {
        self.id = id
        self.name = name
        self.key = key
        self.engine = engine
        self.watch = watch
    }

    /// Stores a child task in the group.
    ///
    /// - Throws: ``DurableError/Code/groupNotOpen`` once a child has failed (the
    ///   group is shutting down) or the group has finished; nothing is created then.
    @discardableResult
    public func createTask<J: Job>(
        _ job: J.Type, _ input: J.Input, name: String? = nil, context: [String: String]? = nil,
        key: String? = nil, options: TaskOptions = TaskOptions()
    ) async throws -> DurableTask<J.Output> {
        let position = try state.withLock { state -> Int in
            guard !state.finished else {
                throw DurableError(.groupNotOpen, "task group \(id) (\(self.name)) is finished; no task was created")
            }
            state.created += 1
            return state.created
        }
        let childKey = key ?? self.key.map { "\($0)#\(position)" }
        let tasks = try await engine.createTasks(
            job, [TaskRequest(input, name: name, context: context, key: childKey, options: options)], groupID: id)
        try await track(tasks.map(\.id))
        return tasks[0]
    }

    /// Adds tasks to the group's watch (and reads the outcomes of finished ones).
    func track(_ ids: [TaskID]) async throws {
        let added = watch.add(ids)
        guard !added.isEmpty else { return }
        engine.hub.extend(watch, with: added)
        let stored = try await engine.store.outcomes(of: added)
        watch.deliver(stored.outcomes)
        watch.failMissing(stored.missing)
    }

    func markFinished() {
        state.withLock { $0.finished = true }
    }
}
