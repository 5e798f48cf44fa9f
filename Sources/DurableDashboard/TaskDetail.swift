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
    package var callbacks: [CallbackRecord]
    package var abandoned: AbandonedRun?

    /// Reads task `id`; throws ``DurableError/Code/unknownTask`` when there is none.
    package static func load(_ id: TaskID, from engine: TaskEngine) async throws -> TaskDetail {
        let task = try await engine.record(of: id)
        let abandoned =
            task.status == .running ? try await engine.abandonedRuns().first { $0.taskID == id } : nil
        return TaskDetail(
            task: task, attempts: try await engine.attempts(of: id), steps: try await engine.steps(of: id),
            children: try await engine.tasks(matching: TaskQuery(parentID: id, limit: 10_000)).reversed(),
            callbacks: try await engine.callbacks(of: id), abandoned: abandoned)
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
            return entry
        }
        object["children"] = children.map { ["id": $0.id.rawValue, "status": $0.status.rawValue, "name": $0.name] }
        object["callbacks"] = callbacks.map { callback -> [String: Any] in
            var entry: [String: Any] = ["job": callback.job, "input": Formatting.jsonValue(callback.input)]
            entry["task_id"] = callback.callbackTaskID?.rawValue
            return entry
        }
        return object
    }
}
