package import DurableEngine
import Foundation

/// Everything stored about one task: its row, its runs, steps, children and
/// durable done callbacks, and why nobody runs it when its run was abandoned.
/// `durable show` and the dashboard's task page and API read it the same way.
package struct TaskDetail: Sendable {
    package var task: TaskRecord
    package var attempts: [AttemptRecord]
    package var steps: [StepRecord]
    /// Oldest first.
    package var children: [TaskRecord]
    /// The children's own children (and theirs), oldest first, by parent: down
    /// to ``treeDepth`` levels below the task, looked up for at most
    /// ``treeLookups`` tasks (a huge fan-out shows its first levels).
    package var descendants: [TaskID: [TaskRecord]] = [:]
    package var callbacks: [CallbackRecord]
    package var abandoned: AbandonedRun?
    /// Values the task published, by key.
    package var events: [EventRecord] = []
    /// Messages sent to it, in order of sending.
    package var messages: [MessageRecord] = []

    static let treeDepth = 4
    static let treeLookups = 50
    /// Tasks shown below one task of the tree (its newest ones).
    static let treeBranch = 100

    /// Reads task `id`; throws ``DurableError/Code/unknownTask`` when there is none.
    package static func load(_ id: TaskID, from engine: TaskEngine) async throws -> TaskDetail {
        let task = try await engine.record(of: id)
        let abandoned =
            task.status == .running ? try await engine.abandonedRuns().first { $0.taskID == id } : nil
        let children = Array(try await engine.tasks(matching: TaskQuery(parentID: id, limit: 10_000)).reversed())
        var detail = TaskDetail(
            task: task, attempts: try await engine.attempts(of: id), steps: try await engine.steps(of: id),
            children: children, callbacks: try await engine.callbacks(of: id), abandoned: abandoned)
        detail.descendants = try await descendants(of: children, from: engine)
        detail.events = try await engine.events(of: id)
        detail.messages = try await engine.messages(of: id)
        return detail
    }

    /// The tasks below `children`, level by level (see ``descendants``).
    private static func descendants(of children: [TaskRecord], from engine: TaskEngine) async throws
        -> [TaskID: [TaskRecord]]
    {
        var found: [TaskID: [TaskRecord]] = [:]
        var level = children
        var lookups = 0
        for _ in 1..<treeDepth {
            var next: [TaskRecord] = []
            for parent in level where lookups < treeLookups {
                lookups += 1
                let below = try await engine.tasks(matching: TaskQuery(parentID: parent.id, limit: treeBranch))
                guard !below.isEmpty else { continue }
                found[parent.id] = below.reversed()
                next += below.reversed()
            }
            level = next
        }
        return found
    }

    /// The task as one JSON object: ``Formatting/json(_:)-(TaskRecord)`` with
    /// `abandoned`, `attempts`, `steps`, `children` and `callbacks`.
    package var json: [String: Any] {
        var object = Formatting.json(task)
        object["abandoned"] = abandoned.map(Formatting.json)
        object["attempts"] = attempts.map { attempt -> [String: Any] in
            var entry: [String: Any] = [
                "attempt": attempt.attempt, "owner": attempt.owner, "outcome": attempt.outcome.rawValue,
                "started": Formatting.isoTime(attempt.startedAt) ?? "",
                "finished": Formatting.isoTime(attempt.finishedAt) ?? "",
            ]
            entry["error"] = attempt.error?.message
            return entry
        }
        object["steps"] = steps.map { step -> [String: Any] in
            var entry: [String: Any] = [
                "position": step.position, "name": step.name, "kind": step.kind.rawValue, "status": step.status.rawValue,
            ]
            entry["result"] = step.result.map { Formatting.jsonValue($0) }
            entry["error"] = step.error?.message
            entry["attempt"] = step.attempt
            entry["started"] = Formatting.isoTime(step.startedAt)
            entry["stored"] = Formatting.isoTime(step.storedAt)
            entry["took_ms"] = step.durationMilliseconds
            return entry
        }
        let summary = { (task: TaskRecord) -> [String: Any] in
            ["id": task.id.rawValue, "status": task.status.rawValue, "name": task.name]
        }
        object["events"] = Dictionary(events.map { ($0.key, Formatting.jsonValue($0.value)) }, uniquingKeysWith: { $1 })
        object["messages"] = messages.map { message -> [String: Any] in
            var entry: [String: Any] = [
                "id": message.id, "topic": message.topic, "payload": Formatting.jsonValue(message.payload),
                "sent": Formatting.isoTime(message.sentAt) ?? "",
            ]
            entry["key"] = message.key
            entry["delivered"] = Formatting.isoTime(message.deliveredAt)
            entry["delivered_attempt"] = message.deliveredAttempt
            return entry
        }
        object["children"] = children.map(summary)
        object["descendants"] = Dictionary(
            uniqueKeysWithValues: descendants.map { ("\($0.key.rawValue)", $0.value.map(summary)) })
        object["callbacks"] = callbacks.map { callback -> [String: Any] in
            var entry: [String: Any] = ["job": callback.job, "input": Formatting.jsonValue(callback.input)]
            entry["task_id"] = callback.callbackTaskID?.rawValue
            return entry
        }
        return object
    }
}
