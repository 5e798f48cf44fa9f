import Hummingbird
import NIOCore

/// Building the dashboard's HTML: every stored text goes through ``escape(_:)``.
enum HTML {
    /// `text` with the five characters HTML gives meaning to escaped, so a
    /// task named `<script>alert(1)</script>` shows as text. It looks at each
    /// Unicode scalar, not each character: `"` followed by a combining mark is
    /// one Swift character, unequal to `"`, yet the browser still ends an
    /// attribute at it.
    static func escape(_ text: String) -> String {
        var escaped = String.UnicodeScalarView()
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": escaped.append(contentsOf: "&amp;".unicodeScalars)
            case "<": escaped.append(contentsOf: "&lt;".unicodeScalars)
            case ">": escaped.append(contentsOf: "&gt;".unicodeScalars)
            case "\"": escaped.append(contentsOf: "&quot;".unicodeScalars)
            case "'": escaped.append(contentsOf: "&#39;".unicodeScalars)
            default: escaped.append(scalar)
            }
        }
        return String(escaped)
    }

    /// A whole page: the title (escaped here), the navigation and `body`
    /// (already HTML).
    static func page(title: String, body: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title)) · Durable</title>
        <style>\(style)</style>
        </head>
        <body>
        <nav><a href="/">Overview</a> <a href="/tasks">Tasks</a></nav>
        <main>
        <h1>\(escape(title))</h1>
        \(body)
        </main>
        <script>\(liveScript)</script>
        </body>
        </html>
        """
    }

    /// A response carrying an HTML page.
    static func response(_ html: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(
            status: status, headers: [.contentType: "text/html; charset=utf-8"],
            body: ResponseBody(byteBuffer: ByteBuffer(string: html)))
    }

    /// A table: a header row and rows of cells that are already HTML.
    static func table(headers: [String], rows: [[String]]) -> String {
        let head = headers.map { "<th>\(escape($0))</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return "<table>\n<thead><tr>\(head)</tr></thead>\n<tbody>\n\(body)\n</tbody>\n</table>"
    }

    /// A link to a task's page.
    /// A coordinate for SVG: one decimal.
    static func svgNumber(_ value: Double) -> String {
        String(Double(Int(value * 10)) / 10)
    }

    static func taskLink(_ id: Int64, text: String? = nil) -> String {
        "<a href=\"/tasks/\(id)\">\(escape(text ?? "#\(id)"))</a>"
    }

    /// Keeps a page current: on each `change` event of `/api/events`, fetches
    /// the page again and swaps its content in when it changed (not while
    /// something in it has the focus), without reloading the page.
    private static let liveScript = """
        if (window.EventSource && !document.querySelector('input[name=token]')) {
          const source = new EventSource('/api/events');
          let busy = false;
          source.addEventListener('change', async () => {
            if (busy || document.querySelector('main :focus')) return;
            busy = true;
            try {
              const response = await fetch(location.href, {credentials: 'same-origin'});
              if (response.ok) {
                const page = new DOMParser().parseFromString(await response.text(), 'text/html');
                const fresh = page.querySelector('main');
                const current = document.querySelector('main');
                // Unchanged content stays (a button about to be clicked is not swapped).
                if (fresh && fresh.innerHTML !== current.innerHTML) { current.replaceWith(fresh); }
              }
            } finally { busy = false; }
          });
        }
        """

    private static let style = """
        body{font-family:system-ui,sans-serif;margin:0;color:#1d2433;background:#f7f8fa}
        nav{background:#1d2433;padding:.6em 1.2em}nav a{color:#fff;margin-right:1.2em;text-decoration:none}
        main{padding:1em 1.6em}table{border-collapse:collapse;background:#fff;margin:.5em 0 1.5em}
        th,td{border:1px solid #d8dce3;padding:.3em .6em;text-align:left;vertical-align:top}
        th{background:#eef0f4}pre{background:#fff;border:1px solid #d8dce3;padding:.6em;overflow:auto}
        .status-succeeded{color:#19723a}.status-failed{color:#b42318}.status-cancelled{color:#8a6d00}
        .status-running{color:#1849a9}form.filters input,form.filters select{margin-right:.6em}
        """
}
