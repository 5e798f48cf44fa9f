import DurableEngine

/// A task page's runs as a timeline, drawn as inline SVG: one bar per run from
/// its start to its end on a shared time axis (the gaps between bars are the
/// waits between runs: retry delays, durable sleeps, recoveries), coloured by
/// how the run ended; each bar's title tells its attempt, owner and times. A
/// run still going (the task is running) reaches to `now`.
enum AttemptTimeline {
    static let width = 720
    static let rowHeight = 18

    /// The timeline of `attempts` (and of the running attempt of `task`, if it
    /// has not ended), or nothing when the task never ran.
    static func svg(_ attempts: [AttemptRecord], running task: TaskRecord, now: Int64) -> String {
        var bars = attempts.map {
            Bar(attempt: $0.attempt, owner: $0.owner, start: $0.startedAt, end: $0.finishedAt, outcome: $0.outcome.rawValue)
        }
        if task.status == .running, let started = task.startedAt, !attempts.contains(where: { $0.attempt == task.attempt }) {
            bars.append(Bar(attempt: task.attempt, owner: task.owner ?? "", start: started, end: max(started, now), outcome: "running"))
        }
        guard let first = bars.map(\.start).min(), let last = bars.map(\.end).max() else { return "" }
        let span = Double(max(1, last - first))
        let labelWidth = 70.0
        let plot = Double(width) - labelWidth
        let height = bars.count * rowHeight + 18
        let rows = bars.enumerated().map { index, bar -> String in
            let x = labelWidth + Double(bar.start - first) / span * plot
            let barWidth = max(2, Double(bar.end - bar.start) / span * plot)
            let y = index * rowHeight
            let title = HTML.escape(
                "attempt \(bar.attempt) on \(bar.owner): \(bar.outcome), \(Formatting.time(bar.start)) → "
                    + "\(Formatting.time(bar.end)) (\(Formatting.duration(bar.end - bar.start)))")
            return """
                <text x="0" y="\(y + 13)" font-size="11" fill="#333">attempt \(bar.attempt)</text>\
                <rect class="run-\(bar.outcome)" x="\(HTML.svgNumber(x))" y="\(y + 3)" width="\(HTML.svgNumber(barWidth))" \
                height="\(rowHeight - 6)" fill="\(color(bar.outcome))"><title>\(title)</title></rect>
                """
        }
        return """
            <svg class="timeline" role="img" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
            xmlns="http://www.w3.org/2000/svg" aria-label="\(bars.count) run(s) over \(Formatting.duration(last - first))">
            \(rows.joined())
            <text x="\(Int(labelWidth))" y="\(height - 3)" font-size="11" fill="#555">\
            \(HTML.escape(Formatting.time(first)))</text>
            <text x="\(width)" y="\(height - 3)" font-size="11" fill="#555" text-anchor="end">\
            \(HTML.escape(Formatting.duration(last - first))) later</text>
            </svg>
            """
    }

    private struct Bar {
        var attempt: Int
        var owner: String
        var start: Int64
        var end: Int64
        var outcome: String
    }

    private static func color(_ outcome: String) -> String {
        switch outcome {
        case "succeeded": "#19723a"
        case "failed": "#b42318"
        case "cancelled": "#8a6d00"
        case "running": "#1849a9"
        default: "#8a93a6"
        }
    }
}
