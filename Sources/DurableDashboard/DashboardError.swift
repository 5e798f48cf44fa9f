import Hummingbird

/// A request the dashboard refuses: what a person or a client sent that names
/// nothing stored (404), does not parse (400), or lacks the token (403). The
/// message names the thing.
struct DashboardError: Error, Sendable {
    var status: HTTPResponse.Status
    var message: String

    static func badRequest(_ message: String) -> Self { Self(status: .badRequest, message: message) }
    static func notFound(_ message: String) -> Self { Self(status: .notFound, message: message) }
    static func forbidden(_ message: String) -> Self { Self(status: .forbidden, message: message) }

    /// The error as the JSON API answers it: `{"error": "..."}`.
    var jsonResponse: Response {
        JSONText.response(Formatting.jsonLine(["error": message]), status: status)
    }

    /// The error as a page.
    var htmlResponse: Response {
        HTML.response(
            HTML.page(title: "\(status.code) \(status.reasonPhrase)", body: "<p>\(HTML.escape(message))</p>"),
            status: status)
    }
}
