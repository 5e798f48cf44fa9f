import Foundation
import Hummingbird

/// Lets a request through only with the dashboard's token, when it has one:
/// `Authorization: Bearer <token>` (the API's clients), or the `durable_token`
/// cookie that `POST /login` sets once a person typed the token into the
/// page's form. Without it, the API answers 403 with a JSON error and a page
/// answers 403 with that form.
struct TokenMiddleware<Context: RequestContext>: RouterMiddleware {
    let token: String?

    static var cookieName: String { "durable_token" }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response)
        async throws -> Response
    {
        guard let token, request.uri.path != "/login" else { return try await next(request, context) }
        if let header = request.headers[.authorization], header.hasPrefix("Bearer "),
            Self.same(String(header.dropFirst("Bearer ".count)), token)
        {
            return try await next(request, context)
        }
        if let cookie = request.cookies[Self.cookieName]?.value, Self.same(cookie.removingPercentEncoding ?? "", token) {
            return try await next(request, context)
        }
        let refusal = DashboardError.forbidden("this dashboard asks for its token (the --token it was started with)")
        if request.uri.path.hasPrefix("/api/") { return refusal.jsonResponse }
        return HTML.response(Self.form(message: refusal.message), status: .forbidden)
    }

    /// `POST /login` with `token=...` (a form): sets the cookie and goes to the
    /// overview when the token is right; answers 403 with the form again when not.
    static func login(_ request: Request, token: String?) async throws -> Response {
        let body = try await request.body.collect(upTo: 16 * 1024)
        let given = TaskFilter.parameters(ofQuery: String(buffer: body)).last { $0.name == "token" }?.value ?? ""
        guard let token, same(given, token) else {
            return HTML.response(form(message: "that is not this dashboard's token"), status: .forbidden)
        }
        var response = Response.redirect(to: "/", type: .found)
        response.setCookie(
            Cookie(name: cookieName, value: TaskFilter.encode(token), path: "/", httpOnly: true, sameSite: .strict))
        return response
    }

    /// Compares two tokens in time that does not depend on where they differ.
    static func same(_ given: String, _ token: String) -> Bool {
        let (a, b) = (Array(given.utf8), Array(token.utf8))
        var difference = UInt8(a.count == b.count ? 0 : 1)
        for index in 0..<max(a.count, b.count) {
            difference |= (index < a.count ? a[index] : 0) ^ (index < b.count ? b[index] : 0)
        }
        return difference == 0
    }

    /// The page that asks for the token.
    private static func form(message: String) -> String {
        HTML.page(
            title: "Token",
            body: """
                <p>\(HTML.escape(message))</p>
                <form method="post" action="/login">
                <input type="password" name="token" autofocus placeholder="token">
                <button type="submit">Open</button>
                </form>
                """)
    }
}
