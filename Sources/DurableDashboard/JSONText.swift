import Hummingbird
import NIOCore

/// The JSON API's bodies: objects built the way `durable show --json` builds
/// them (``Formatting``), one line with sorted keys (``Formatting/jsonLine(_:)``).
enum JSONText {
    /// A response carrying JSON text.
    static func response(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "application/json; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }
}
