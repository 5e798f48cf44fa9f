@testable import DurableDashboard
import Foundation
import Testing

@Suite("Times as the tools and the dashboard show them")
struct FormattingTests {
    @Test("stored times read as UTC to the millisecond, as Foundation's ISO 8601 formatter writes them, before 1970 too")
    func times() {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        for milliseconds: Int64 in [0, 1, 999, 1_000, 1_764_509_187_123, 4_102_444_799_999, -1, -1_001, -86_400_000] {
            let expected = formatter.string(from: Date(timeIntervalSince1970: Double(milliseconds) / 1000))
            #expect(Formatting.isoTime(milliseconds) == expected, "\(milliseconds)")
            #expect(
                Formatting.time(milliseconds) == expected.replacingOccurrences(of: "T", with: " ").replacingOccurrences(of: "Z", with: ""),
                "\(milliseconds)")
        }
        #expect(Formatting.time(nil) == "" && Formatting.isoTime(nil) == nil)
    }
}
