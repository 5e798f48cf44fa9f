import DurableEngine
import Foundation
import Hummingbird

// The pages for people: server-rendered HTML, every stored text escaped.
extension Dashboard {
    /// `GET /`: counts by status and job, recent throughput, abandoned runs.
    func overviewPage() async throws -> Response {
        let statistics = try await engine.statistics()
        let byStatus = Self.countsByStatus(statistics)
        let statusRow = TaskStatus.allCases.map { status in
            "<a href=\"/tasks?status=\(status.rawValue)\">\(byStatus[status.rawValue] ?? 0)</a>"
        }
        let jobs = statistics.counts.keys.sorted().map { job -> [String] in
            let counts = statistics.counts[job] ?? [:]
            let retry = (counts[.failed] ?? 0) > 0
                ? actionButton("Retry failed", path: "/jobs/retry-failed", fields: [("job", job)]) : ""
            return ["<a href=\"/tasks?job=\(TaskFilter.encode(job))\">\(HTML.escape(job))</a>"]
                + TaskStatus.allCases.map { "\(counts[$0] ?? 0)" }
                + ["\(statistics.abandoned[job] ?? 0)", retry]
        }
        let rate = statistics.lastMinuteRate.map { String(format: "%.1f tasks/s", $0) } ?? "–"
        let activity = try await engine.activity()
        let wait = activity.queueWait.map {
            "p50 \(Formatting.duration($0.p50)), p95 \(Formatting.duration($0.p95)) (\($0.sampled) tasks)"
        } ?? "–"
        let now = engine.configuration.clock.now()
        let oldestDue = statistics.oldestDueTime.map { Formatting.duration(max(0, now - $0)) } ?? "none is due"
        let failures = activity.failures.map { group -> [String] in
            [
                "\(group.count)", HTML.escape(group.type), HTML.escape(Formatting.oneLine(group.message, limit: 160)),
                HTML.taskLink(group.latestTaskID.rawValue),
            ]
        }
        let workers = activity.workers.map { worker -> [String] in
            [
                HTML.escape(worker.host), "\(worker.pid)", "\(worker.running) / \(worker.concurrency)",
                HTML.escape(Formatting.time(worker.heartbeatAt)), HTML.escape(Formatting.time(worker.startedAt)),
                HTML.escape(worker.id),
            ]
        }
        let body = """
            <h2>Tasks by status</h2>
            \(HTML.table(headers: TaskStatus.allCases.map(\.rawValue), rows: [statusRow]))
            <h2>By job</h2>
            \(HTML.table(headers: ["job"] + TaskStatus.allCases.map(\.rawValue) + ["abandoned", ""], rows: jobs))
            <h2>Finished</h2>
            \(HTML.table(
                headers: ["last minute", "last hour", "rate over the last minute"],
                rows: [["\(statistics.finishedLastMinute)", "\(statistics.finishedLastHour)", rate]]))
            <h2>Finished per minute, last hour</h2>
            \(ThroughputChart.svg(activity))
            <p>Queue wait (due → running) of the tasks finished in the last hour: \(HTML.escape(wait))</p>
            <p>Longest wait of a due task: \(HTML.escape(oldestDue))</p>
            <h2>Workers</h2>
            \(workers.isEmpty ? "<p>No worker is running.</p>" : HTML.table(
                headers: ["host", "pid", "running / slots", "last heartbeat", "started", "id"], rows: workers))
            <h2>Failures in the last hour</h2>
            \(failures.isEmpty ? "<p>None.</p>" : HTML.table(
                headers: ["tasks", "error type", "message", "latest"], rows: failures))
            """
        return HTML.response(HTML.page(title: "Overview", body: body))
    }

    /// `GET /tasks?...`: the filter form, a page of tasks, a link to the next page.
    func tasksPage(_ filter: TaskFilter) async throws -> Response {
        if let id = filter.searchedID { return Response.redirect(to: "/tasks/\(id)", type: .normal) }
        let tasks = try await engine.tasks(matching: filter.query)
        let rows = tasks.map { task -> [String] in
            [
                HTML.taskLink(task.id.rawValue), HTML.escape(task.name), HTML.escape(task.job),
                "<span class=\"status-\(task.status.rawValue)\">\(task.status.rawValue)</span>",
                "\(task.attempt)", HTML.escape(Formatting.time(task.createdAt)),
                HTML.escape(Formatting.time(task.finishedAt)),
                HTML.escape(Formatting.oneLine(task.error?.message ?? task.result)),
            ]
        }
        var body = Self.filterForm(filter)
        body += tasks.isEmpty
            ? "<p>No task matches.</p>"
            : HTML.table(
                headers: ["id", "name", "job", "status", "attempt", "created", "finished", "result or error"], rows: rows)
        if let before = Self.nextBefore(tasks, filter: filter) {
            let query = filter.queryString
            body += "<p><a rel=\"next\" href=\"/tasks?\(query.isEmpty ? "" : query + "&")before=\(before)\">Older →</a></p>"
        }
        return HTML.response(HTML.page(title: "Tasks", body: body))
    }

    /// `GET /tasks/{id}`: everything stored about one task.
    func taskPage(_ id: Int64) async throws -> Response {
        let detail = try await TaskDetail.load(TaskID(id), from: engine)
        let task = detail.task
        let duration = task.finishedAt.flatMap { finished in task.startedAt.map { finished - $0 } }
        let fields: [(String, String?)] = [
            ("name", task.name), ("job", task.job), ("status", Formatting.status(task, abandoned: detail.abandoned)),
            ("attempt", "\(task.attempt)"), ("priority", "\(task.priority)"), ("key", task.key),
            ("owner", task.owner), ("created", Formatting.time(task.createdAt)), ("run at", Formatting.time(task.runAt)),
            ("started", Formatting.time(task.startedAt)), ("finished", Formatting.time(task.finishedAt)),
            ("duration", Formatting.duration(duration)), ("deadline", Formatting.time(task.deadline)),
            ("group", task.groupID.map { "\($0.rawValue)" }), ("cancel message", task.cancelMessage),
        ]
        var rows = fields.compactMap { field, value -> [String]? in
            guard let value, !value.isEmpty else { return nil }
            return [HTML.escape(field), HTML.escape(value)]
        }
        if let parent = task.parentID { rows.append(["parent", HTML.taskLink(parent.rawValue)]) }
        if let watched = task.callbackOf { rows.append(["callback of", HTML.taskLink(watched.rawValue)]) }
        var body = HTML.table(headers: ["field", "value"], rows: rows)
        if !task.status.isTerminal {
            body += actionButton("Cancel", path: "/tasks/\(task.id.rawValue)/cancel")
        } else if task.status == .failed || task.status == .cancelled {
            body += actionButton("Retry", path: "/tasks/\(task.id.rawValue)/retry")
        }
        body += "<h2>Input</h2><pre>\(HTML.escape(Formatting.prettyJSON(task.input)))</pre>"
        if !task.context.isEmpty {
            let context = task.context.sorted { $0.key < $1.key }.map { "\($0)=\($1)" }.joined(separator: "\n")
            body += "<h2>Context</h2><pre>\(HTML.escape(context))</pre>"
        }
        if let result = task.result { body += "<h2>Result</h2><pre>\(HTML.escape(Formatting.prettyJSON(result)))</pre>" }
        if let error = task.error {
            body += "<h2>Error</h2><pre>\(HTML.escape("\(error.kind.rawValue): \(error.type): \(error.message)"))</pre>"
        }
        if !detail.attempts.isEmpty || task.status == .running {
            body += "<h2>Runs</h2>\n"
                + AttemptTimeline.svg(detail.attempts, running: task, now: engine.configuration.clock.now())
        }
        body += Self.section("", headers: ["attempt", "owner", "started", "finished", "took", "outcome", "error"],
            rows: detail.attempts.map { run in
                [
                    "\(run.attempt)", HTML.escape(run.owner), HTML.escape(Formatting.time(run.startedAt)),
                    HTML.escape(Formatting.time(run.finishedAt)),
                    HTML.escape(Formatting.duration(run.finishedAt - run.startedAt)), run.outcome.rawValue,
                    HTML.escape(run.error?.message ?? ""),
                ]
            })
        body += Self.section(
            "Steps and durable sleeps",
            headers: ["position", "name", "kind", "status", "attempt", "stored", "took", "result, error or wake-up"],
            rows: detail.steps.map { step in
                [
                    "\(step.position)", HTML.escape(step.name), step.kind.rawValue, step.status.rawValue,
                    "\(step.attempt)", HTML.escape(Formatting.time(step.storedAt)),
                    HTML.escape(Formatting.stepDuration(step)), HTML.escape(Formatting.stepOutcome(step)),
                ]
            })
        if !detail.children.isEmpty {
            body += "<h2>Children</h2>\n" + Self.tree(detail.children, below: detail.descendants)
        }
        body += Self.section("Done callbacks", headers: ["job", "input", "task"],
            rows: detail.callbacks.map { callback in
                [
                    HTML.escape(callback.job), HTML.escape(Formatting.oneLine(callback.input, limit: 200)),
                    callback.callbackTaskID.map { HTML.taskLink($0.rawValue) } ?? "not yet",
                ]
            })
        return HTML.response(HTML.page(title: "Task \(task.id.rawValue): \(task.name)", body: body))
    }

    /// A titled table (untitled when `title` is empty), left out when it has no rows.
    private static func section(_ title: String, headers: [String], rows: [[String]]) -> String {
        guard !rows.isEmpty else { return "" }
        return (title.isEmpty ? "" : "<h2>\(HTML.escape(title))</h2>\n") + HTML.table(headers: headers, rows: rows)
    }

    /// Tasks as a nested list, each with the tasks below it.
    private static func tree(_ tasks: [TaskRecord], below: [TaskID: [TaskRecord]]) -> String {
        let items = tasks.map { task in
            "<li>\(HTML.taskLink(task.id.rawValue)) \(HTML.escape(task.name)) "
                + "<span class=\"status-\(task.status.rawValue)\">\(task.status.rawValue)</span>"
                + (below[task.id].map { tree($0, below: below) } ?? "") + "</li>"
        }
        return "<ul class=\"tree\">" + items.joined() + "</ul>"
    }

    /// The task list's filter form, filled in with `filter`.
    private static func filterForm(_ filter: TaskFilter) -> String {
        let query = filter.query
        let selected = query.statuses.count == 1 ? query.statuses.first : nil
        let options = ["<option value=\"\">any status</option>"] + TaskStatus.allCases.map { status in
            "<option value=\"\(status.rawValue)\"\(status == selected ? " selected" : "")>\(status.rawValue)</option>"
        }
        func field(_ name: String, _ value: String?, placeholder: String) -> String {
            "<input name=\"\(name)\" value=\"\(HTML.escape(value ?? ""))\" placeholder=\"\(placeholder)\">"
        }
        return """
            <form class="filters" method="get" action="/tasks">
            <select name="status">\(options.joined())</select>
            \(field("job", query.job, placeholder: "job"))
            \(field("name", query.nameGlob, placeholder: "name (glob: * ?)"))
            \(field("parent", query.parentID.map { "\($0.rawValue)" }, placeholder: "parent id"))
            \(field("group", query.groupID.map { "\($0.rawValue)" }, placeholder: "group id"))
            \(field("since", query.createdSince.map(TaskFilter.timeText), placeholder: "since (ISO 8601)"))
            \(field("until", query.createdBefore.map(TaskFilter.timeText), placeholder: "until (ISO 8601)"))
            \(field("search", query.key, placeholder: "task id or key"))
            <button type="submit">Filter</button>
            </form>
            """
    }
}
