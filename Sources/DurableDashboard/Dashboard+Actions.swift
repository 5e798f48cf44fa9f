import DurableEngine
import Foundation
import Hummingbird

// Actions: cancel a task, retry a task, retry a job's failed tasks. Only with
// ``Dashboard/Access/allowActions``, and only as POSTs that carry the
// dashboard's CSRF token (the pages' forms hold it; API clients send it in
// the `X-CSRF-Token` header, from `GET /api/csrf`).
extension Dashboard {
    /// What an action POST asks for.
    enum Action: Sendable {
        case cancel(Int64)
        case retry(Int64)
        case retryFailed(job: String)
    }

    /// Carries out the action a page's form asks for (`action` reads it from
    /// the form's fields): back to the page it came from.
    func act(_ request: Request, _ action: ([(name: String, value: String)]) throws -> Action) async throws
        -> Response
    {
        let form = TaskFilter.parameters(ofQuery: String(buffer: try await request.body.collect(upTo: 64 * 1024)))
        try checkAction(token: form.last { $0.name == "csrf" }?.value)
        switch try action(form) {
        case .cancel(let id):
            _ = try await cancel(id)
            return .redirect(to: "/tasks/\(id)", type: .normal)
        case .retry(let id):
            _ = try await retry(id)
            return .redirect(to: "/tasks/\(id)", type: .normal)
        case .retryFailed(let job):
            _ = try await retryFailed(job: job)
            return .redirect(to: "/tasks?job=\(TaskFilter.encode(job))", type: .normal)
        }
    }

    /// The job a form or a query names (`job=`), which must be given.
    static func job(in parameters: [(name: String, value: String)]) throws -> String {
        guard let job = parameters.last(where: { $0.name == "job" })?.value, !job.isEmpty else {
            throw DashboardError.badRequest("job is missing: name the job whose failed tasks to retry (job=NAME)")
        }
        return job
    }

    /// Carries out `action` for an API client: what it did, as JSON.
    func actJSON(_ action: Action, request: Request) async throws -> Response {
        try checkAction(token: request.headers.first { $0.name.canonicalName == "x-csrf-token" }?.value)
        let object: [String: Any] =
            switch action {
            case .cancel(let id): ["id": id, "cancelled": try await cancel(id)]
            case .retry(let id): ["id": id, "retried": try await retry(id)]
            case .retryFailed(let job): ["job": job, "retried": try await retryFailed(job: job)]
            }
        return JSONText.response(Formatting.jsonLine(object))
    }

    /// `GET /api/csrf`: the token action POSTs carry.
    func csrfJSON() -> Response {
        JSONText.response(Formatting.jsonLine(["csrf": csrfToken, "actions": access.allowActions]))
    }

    /// Refuses an action when actions are off or `token` is not this dashboard's.
    private func checkAction(token: String?) throws(DashboardError) {
        guard access.allowActions else {
            throw .forbidden("actions are off: start the dashboard with --allow-actions to cancel and retry tasks")
        }
        guard let token, TokenMiddleware<BasicRequestContext>.same(token, csrfToken) else {
            throw .forbidden("the action lacks this dashboard's CSRF token (reload the page and try again)")
        }
    }

    private func cancel(_ id: Int64) async throws -> Bool {
        _ = try await engine.record(of: TaskID(id))
        return try await engine.cancel(TaskID(id), message: "cancelled from the dashboard")
    }

    private func retry(_ id: Int64) async throws -> Bool {
        _ = try await engine.record(of: TaskID(id))
        return try await !engine.retry([TaskID(id)]).isEmpty
    }

    /// Retries the failed tasks of `job`, a thousand at a time; returns how many.
    private func retryFailed(job: String) async throws -> Int {
        var total = 0
        while true {
            let failed = try await engine.tasks(matching: TaskQuery(statuses: [.failed], job: job, limit: 1000))
            let retried = try await engine.retry(failed.map(\.id)).count
            total += retried
            if failed.count < 1000 || retried == 0 { return total }
        }
    }

    /// A button that POSTs `action` with the CSRF token (empty when actions are off).
    func actionButton(_ label: String, path: String, fields: [(String, String)] = []) -> String {
        guard access.allowActions else { return "" }
        let hidden = ([("csrf", csrfToken)] + fields).map {
            "<input type=\"hidden\" name=\"\(HTML.escape($0.0))\" value=\"\(HTML.escape($0.1))\">"
        }
        return """
            <form class="action" method="post" action="\(HTML.escape(path))">\(hidden.joined())\
            <button type="submit">\(HTML.escape(label))</button></form>
            """
    }
}
