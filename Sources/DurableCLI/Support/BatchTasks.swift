import Durable

/// The tasks of a batch's lines, created or found again.
enum BatchTasks {
    /// One task per line, in file order, created in one transaction where
    /// missing. A line's task is found again by the batch, the line's text and its
    /// occurrence (``RunBatch/key(of:)``), so editing the file re-runs nothing
    /// that finished. Tasks of older builds, known by line number, are found
    /// under their old key while their line has not moved.
    static func tasks(of batch: RunBatch, options: TaskOptions, on engine: TaskEngine) async throws
        -> [DurableTask<ShellOutcome>]
    {
        let legacy = try await legacyTasks(of: batch, on: engine)
        var tasks: [DurableTask<ShellOutcome>?] = Array(repeating: nil, count: batch.lines.count)
        var missing: [(index: Int, request: TaskRequest<ShellCommand.Input>)] = []
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
                        key: batch.key(of: line), options: options)
                ))
        }
        let created = try await engine.createTasks(ShellCommand.self, missing.map(\.request))
        for (entry, task) in zip(missing, created) { tasks[entry.index] = task }
        return tasks.compactMap { $0 }
    }

    /// The batch's tasks created by builds that keyed lines by number, by key.
    private static func legacyTasks(of batch: RunBatch, on engine: TaskEngine) async throws -> [String: TaskID] {
        var byKey: [String: TaskID] = [:]
        let prefix = batch.identity + ":"
        for record in try await engine.tasks(matching: TaskQuery(job: ShellCommand.name, limit: Int.max)) {
            // Old keys go on with the line number, new ones with "#".
            guard let key = record.key, key.hasPrefix(prefix), key.dropFirst(prefix.count).first?.isNumber == true
            else { continue }
            byKey[key] = record.id
        }
        return byKey
    }
}
