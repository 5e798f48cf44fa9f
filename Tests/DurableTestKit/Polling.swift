public import Testing

// Waiting without hanging, and without asserting on how long anything took.

/// Polls `condition` (usually a read of stored state) every millisecond until it
/// holds; records a test issue naming `what` after 5000 tries. Nothing asserts on
/// how long it took.
public func eventually(
    _ what: String, _ condition: () async throws -> Bool, sourceLocation: SourceLocation = #_sourceLocation
) async throws {
    for _ in 0..<5000 {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(1))
    }
    Issue.record("never happened: \(what)", sourceLocation: sourceLocation)
}

/// A child process that a polling loop watches: it must keep running meanwhile.
public protocol PolledChild: Sendable {
    var label: String { get }
    /// Throws, with what the child wrote, once it has ended.
    func requireRunning() throws
    /// Added to the message of a poll that timed out.
    var pollFailureDetail: String { get }
}

/// Polls `condition` every few milliseconds until it holds; fails with `what` after
/// `timeout`. `child`, when given, must keep running meanwhile.
public func poll(
    _ what: String, timeout: Duration = .seconds(60), child: (any PolledChild)? = nil,
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        try child?.requireRunning()
        guard ContinuousClock.now < deadline else {
            throw TestKitError(
                "timed out after \(timeout) waiting until \(what)" + (child?.pollFailureDetail ?? ""))
        }
        try await Task.sleep(for: .milliseconds(5))
    }
}

/// Runs `operation`, failing with `what` if it has not returned after `timeout`.
public func withTimeout<T: Sendable>(
    _ what: String, _ timeout: Duration = .seconds(60), _ operation: @escaping @Sendable () async throws -> T
) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: timeout)
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else {
            throw TestKitError("timed out after \(timeout) waiting until \(what)")
        }
        return value
    }
}
