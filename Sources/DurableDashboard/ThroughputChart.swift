import DurableEngine

/// The overview's chart of tasks finished per minute, drawn as inline SVG bars
/// (no script, no external asset); each bar's title tells its minute and count.
enum ThroughputChart {
    static let width = 720
    static let height = 140

    /// The chart of `report`'s minutes, oldest on the left.
    static func svg(_ report: ActivityReport) -> String {
        let counts = report.finishedPerMinute
        guard !counts.isEmpty else { return "" }
        let top = max(1, counts.max() ?? 1)
        let plotHeight = height - 20
        let slot = Double(width) / Double(counts.count)
        let barWidth = max(1, slot - 1)
        var bars: [String] = []
        for (index, count) in counts.enumerated() where count > 0 {
            let barHeight = max(1, Double(count) / Double(top) * Double(plotHeight))
            let minute = Formatting.time(report.windowStart + Int64(index) * 60_000).prefix(16)
            bars.append(
                """
                <rect x="\(HTML.svgNumber(Double(index) * slot))" y="\(HTML.svgNumber(Double(plotHeight) - barHeight))" \
                width="\(HTML.svgNumber(barWidth))" height="\(HTML.svgNumber(barHeight))"><title>\(minute): \(count)</title></rect>
                """)
        }
        let total = counts.reduce(0, +)
        return """
            <svg class="throughput" role="img" width="\(width)" height="\(height)" viewBox="0 0 \(width) \(height)" \
            xmlns="http://www.w3.org/2000/svg" aria-label="tasks finished per minute, \(total) in all">
            <line x1="0" y1="\(plotHeight)" x2="\(width)" y2="\(plotHeight)" stroke="#8a93a6"/>
            <g fill="#1849a9">\(bars.joined())</g>
            <text x="0" y="\(height - 4)" font-size="11" fill="#555">\(counts.count) min ago</text>
            <text x="\(width)" y="\(height - 4)" font-size="11" fill="#555" text-anchor="end">now · peak \(top)/min</text>
            </svg>
            """
    }
}
