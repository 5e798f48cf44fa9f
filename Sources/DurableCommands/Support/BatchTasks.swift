import Durable

/// The tasks of a batch's lines, created or found again.
enum BatchTasks {
    /// One task per line, in file order, in the batch's queue, created in one
    /// transaction where missing. A line's task is found again by the batch, the line's text and its
    /// occurrence (``RunBatch/key(of:)``), so editing the file re-runs nothing
    /// that finished. Tasks of older builds, known by line number, are found
    /// under their old key while their line has not moved.
    static func tasks(of batch: RunBatch, options: TaskOptions, on engine: TaskEngine) async throws
        -> [DurableTask<ShellOutcome>]
    {
        let legacy = try await legacyTasks(of: batch, on: engine)
        var tasks: [DurableTask<ShellOutcome>?] = Array(repeating: nil, count: batch.lines.count)
        var missing: [(index: Int, request: TaskRequest<ShellCommand.Input>)] = []
        var inQueue = options
        inQueue.queue = batch.queue
        for (index, line) in batch.lines.enumerated() {
            if let id = legacy[batch.legacyKey(of: line)] {
                tasks[index] = try await engine.task(id: id, as: ShellCommand.self)
                continue
            }
            let input = ShellCommand.Input(
                file: batch.identity, line: nil, command: line.command, occurrence: line.occurrence)
            missing.append(
                (
                    index,
                    TaskRequest(
                        input, name: "line \(line.number): \(RunLedger.abbreviated(line.command, to: 80))",
                        key: batch.key(of: line), options: inQueue)
                ))
        }
        let created = try await engine.createTasks(ShellCommand.self, missing.map(\.request))
        for (entry, task) in zip(missing, created) { tasks[entry.index] = task }
        return tasks.compactMap { $0 }
    }

    /// Every stored task of `batch` (the tasks of its queue).
    static func storedTasks(of batch: RunBatch, on engine: TaskEngine) async throws -> [TaskRecord] {
        try await engine.tasks(matching: TaskQuery(job: ShellCommand.name, queue: batch.queue, limit: Int.max))
    }

    /// The batch's stored tasks by key.
    static func storedTasksByKey(of batch: RunBatch, on engine: TaskEngine) async throws -> [String: TaskRecord] {
        var byKey: [String: TaskRecord] = [:]
        for record in try await storedTasks(of: batch, on: engine) {
            if let key = record.key { byKey[key] = record }
        }
        return byKey
    }

    /// The batch's tasks created by builds that keyed lines by number, by key.
    private static func legacyTasks(of batch: RunBatch, on engine: TaskEngine) async throws -> [String: TaskID] {
        let prefix = batch.identity + ":"
        // Old keys go on with the line number, new ones with "#".
        return try await storedTasksByKey(of: batch, on: engine).filter { key, _ in
            key.hasPrefix(prefix) && key.dropFirst(prefix.count).first?.isNumber == true
        }.mapValues(\.id)
    }
}
