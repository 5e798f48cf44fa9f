import Testing

/// Polls `condition` (usually a read of stored state) every millisecond until it
/// holds; records a test issue naming `what` after 5000 tries. Nothing asserts on
/// how long it took.
func eventually(
    _ what: String, _ condition: () async throws -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    for _ in 0..<5000 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    Issue.record("never happened: \(what)", sourceLocation: sourceLocation)
}
