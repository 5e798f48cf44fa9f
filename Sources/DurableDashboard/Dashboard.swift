public import DurableEngine
public import Hummingbird
public import Logging

/// The web dashboard over one engine's stored state: pages for people
/// (overview, tasks, a task) and the JSON API they are built on, under `/api/`.
/// It only reads unless actions are allowed; it works on every store the engine opens.
///
/// ```swift
/// let engine = try TaskEngine(path: "durable.sqlite")
/// let dashboard = Dashboard(engine: engine)
/// try await dashboard.application(host: "127.0.0.1", port: 8080, logger: logger).runService()
/// ```
///
/// Routes (every one answers 403 without the token, when one is set):
/// - `GET /` — counts by status and by job, finished in the last minute and hour,
///   a chart of tasks finished per minute over the last hour, the queue wait's
///   p50 and p95, the workers, the last hour's failures grouped by error;
/// - `GET /tasks?status=&job=&name=&parent=&since=&before=&limit=` — tasks, newest
///   first, a page at a time (`before` is the last id of the page before);
/// - `GET /tasks/{id}` — one task: row, input, result or error, runs, steps,
///   children, callbacks;
/// - `GET /api/stats`, `GET /api/workers`, `GET /api/tasks?...`, `GET /api/tasks/{id}`
///   — the same as JSON;
/// - `GET /api/events` — server-sent events: `change` whenever what is stored may
///   have changed (the pages reload their content on it, without a page reload);
/// - with ``Access/allowActions``: `POST /tasks/{id}/cancel`, `POST /tasks/{id}/retry`,
///   `POST /jobs/retry-failed` (field `job`) — the pages' buttons, back to the page —
///   and `POST /api/tasks/{id}/cancel|retry`, `POST /api/jobs/retry-failed?job=NAME`
///   (JSON), each with the CSRF token of `GET /api/csrf` (a form field `csrf`, or the
///   `X-CSRF-Token` header); without it, or with actions off, 403.
///
/// A filter that does not parse answers 400 naming the parameter; an unknown
/// task 404. Every stored text is escaped in the pages.
public struct Dashboard: Sendable {
    /// Who may look.
    public struct Access: Sendable {
        /// When set, every request must carry it: `Authorization: Bearer <token>`,
        /// or the cookie the page's token form sets.
        public var token: String?
        /// Whether people may cancel and retry tasks (POSTs with the CSRF token);
        /// otherwise the dashboard only reads.
        public var allowActions: Bool

        /// Creates access rules; without a token anyone who reaches the address may look.
        public init(token: String? = nil, allowActions: Bool = false) {
            self.token = token
            self.allowActions = allowActions
        }
    }

    let engine: TaskEngine
    let access: Access
    /// What every action POST must carry: random, new for each dashboard.
    let csrfToken: String

    /// A dashboard over `engine`'s database. Actions (``Access/allowActions``)
    /// need an engine that may write.
    public init(engine: TaskEngine, access: Access = Access()) {
        self.engine = engine
        self.access = access
        var generator = SystemRandomNumberGenerator()
        csrfToken = (0..<4).map { _ in String(generator.next() as UInt64, radix: 16) }.joined()
    }

    /// The dashboard's routes.
    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.add(middleware: TokenMiddleware(token: access.token))
        router.post("/login") { request, _ in
            try await TokenMiddleware<BasicRequestContext>.login(request, token: access.token)
        }
        router.get("/") { _, _ in await page { try await overviewPage() } }
        router.get("/tasks") { request, _ in
            await page { try await tasksPage(TaskFilter(parameters: TaskFilter.parameters(ofQuery: request.uri.query))) }
        }
        router.get("/tasks/{id}") { _, context in
            await page { try await taskPage(TaskFilter.id(context.parameters.get("id") ?? "", parameter: "task id")) }
        }
        router.get("/api/stats") { _, _ in await api { try await statsJSON() } }
        router.get("/api/workers") { _, _ in await api { try await workersJSON() } }
        router.get("/api/tasks") { request, _ in
            await api { try await tasksJSON(TaskFilter(parameters: TaskFilter.parameters(ofQuery: request.uri.query))) }
        }
        router.get("/api/tasks/{id}") { _, context in
            await api { try await taskJSON(TaskFilter.id(context.parameters.get("id") ?? "", parameter: "task id")) }
        }
        router.get("/metrics") { _, _ in await api { try await prometheusMetrics() } }
        router.get("/api/csrf") { _, _ in csrfJSON() }
        router.get("/api/events") { _, _ in eventsResponse() }
        for (verb, make) in [("cancel", Action.cancel), ("retry", Action.retry)] {
            router.post("/tasks/{id}/\(verb)") { request, context in
                await page { try await act(request) { _ in make(try Self.id(context)) } }
            }
            router.post("/api/tasks/{id}/\(verb)") { request, context in
                await api { try await actJSON(make(try Self.id(context)), request: request) }
            }
        }
        // The job in a field, not in the path: `durable run` names its jobs after
        // files, slashes included.
        router.post("/jobs/retry-failed") { request, _ in
            await page { try await act(request) { .retryFailed(job: try Self.job(in: $0)) } }
        }
        router.post("/api/jobs/retry-failed") { request, _ in
            await api {
                let job = try Self.job(in: TaskFilter.parameters(ofQuery: request.uri.query))
                return try await actJSON(.retryFailed(job: job), request: request)
            }
        }
        return router
    }

    /// The server: the routes on `host:port` (port 0: any free port).
    /// `onRunning` is told the address it listens on.
    public func application(
        host: String, port: Int, logger: Logger,
        onRunning: @escaping @Sendable (_ host: String, _ port: Int) async -> Void = { _, _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: router(), configuration: ApplicationConfiguration(address: .hostname(host, port: port)),
            onServerRunning: { channel in
                await onRunning(host, channel.localAddress?.port ?? port)
            },
            logger: logger)
    }

    /// The task id of a route's `{id}`.
    private static func id(_ context: BasicRequestContext) throws(DashboardError) -> Int64 {
        try TaskFilter.id(context.parameters.get("id") ?? "", parameter: "task id")
    }

    /// A page, or the page of what went wrong.
    private func page(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            return Self.refusal(error).htmlResponse
        }
    }

    /// A JSON answer, or `{"error": ...}` with the status of what went wrong.
    private func api(_ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch {
            return Self.refusal(error).jsonResponse
        }
    }

    /// What a failed request answers: its own refusal, 404 for an unknown task,
    /// 500 with the error's message for anything else (the store failing).
    static func refusal(_ error: any Error) -> DashboardError {
        switch error {
        case let refusal as DashboardError: refusal
        case let error as DurableError where error.code == .unknownTask: .notFound(error.message)
        case let error as DurableError: DashboardError(status: .internalServerError, message: error.message)
        default: DashboardError(status: .internalServerError, message: "\(error)")
        }
    }
}
