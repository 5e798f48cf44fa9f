import Foundation

/// Which store the in-process behaviour suites run on: SQLite unless
/// `DURABLE_TEST_STORE=postgres` (scripts/test runs them once on each).
public enum TestStore: String, Sendable {
    case sqlite
    case postgres

    /// The store of this test run.
    public static let current: TestStore =
        ProcessInfo.processInfo.environment["DURABLE_TEST_STORE"].flatMap(TestStore.init(rawValue:)) ?? .sqlite

    /// Whether the run is on SQLite: for `.enabled(if: TestStore.isSQLite)` on
    /// tests of what only the SQLite store has (its file, its pragmas).
    public static var isSQLite: Bool { current == .sqlite }
}
