public import Durable
import DurablePostgres
public import Testing

/// A Swift Testing trait that gives each test a fresh ``TemporaryDirectory`` and a
/// fresh engine on a file in it, with the test jobs registered (as
/// ``makeEngine(in:file:gates:counter:log:logger:configure:sqlite:)`` makes it),
/// and closes the engine after the test. On a suite it applies to each test.
///
/// ```swift
/// @Test(.temporaryEngine) func doubles() async throws {
///     let engine = TemporaryEngine.engine
///     let task = try await engine.createTask(Doubler.self, 21)
///     ...
/// }
/// ```
///
/// `.temporaryEngine(file:configure:)` names the file and sets the configuration.
/// A test that drives time with the library's own `ManualClock` (public in
/// Durable; the kit has no clock of its own) makes its engine with
/// `makeEngine(in:configure:)`, passing `$0.clock = clock`.
public struct TemporaryEngine: TestTrait, SuiteTrait, TestScoping {
    /// What one test gets.
    public struct Fixture: Sendable {
        public let directory: TemporaryDirectory
        public let engine: TaskEngine
        public let gates: Gates
        public let counter: RunCounter
        public let log: CallbackLog
    }

    @TaskLocal static var current: Fixture?

    let file: String
    let configure: @Sendable (inout EngineConfiguration) -> Void

    public var isRecursive: Bool { true }

    public func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        let directory = TemporaryDirectory()
        let (gates, counter, log) = (Gates(), RunCounter(), CallbackLog())
        let engine: TaskEngine
        switch TestStore.current {
        case .sqlite:
            engine = try makeEngine(
                in: directory, file: file, gates: gates, counter: counter, log: log, configure: configure)
        case .postgres:
            engine = try await makePostgresEngine(
                schema: PostgresTestServer.schemaName(for: directory.file(file)), gates: gates, counter: counter, log: log,
                configure: configure)
        }
        let fixture = Fixture(directory: directory, engine: engine, gates: gates, counter: counter, log: log)
        do {
            try await Self.$current.withValue(fixture) { try await function() }
        } catch {
            await discard(engine)
            throw error
        }
        await discard(engine)
    }

    /// Closes the engine; on PostgreSQL, drops its schema first.
    private func discard(_ engine: TaskEngine) async {
        if let store = engine.store as? PostgresStore {
            try? await store.dropSchema()
        }
        try? engine.close()
    }

    /// The running test's fixture; a test without the trait stops here.
    public static var fixture: Fixture {
        guard let current else { preconditionFailure("the test has no .temporaryEngine trait") }
        return current
    }

    /// The running test's engine.
    public static var engine: TaskEngine { fixture.engine }
    /// The running test's directory (the engine's file is `directory.file("test.sqlite")` by default).
    public static var directory: TemporaryDirectory { fixture.directory }
    /// The gates, run counter and callback log the test jobs of the engine use.
    public static var gates: Gates { fixture.gates }
    public static var counter: RunCounter { fixture.counter }
    public static var log: CallbackLog { fixture.log }
}

extension Trait where Self == TemporaryEngine {
    /// A fresh directory and engine (file `test.sqlite`) for each test.
    public static var temporaryEngine: Self { .temporaryEngine() }

    /// A fresh directory and engine on `file` for each test, configured by `configure`.
    public static func temporaryEngine(
        file: String = "test.sqlite", configure: @escaping @Sendable (inout EngineConfiguration) -> Void = { _ in }
    ) -> Self {
        TemporaryEngine(file: file, configure: configure)
    }
}
