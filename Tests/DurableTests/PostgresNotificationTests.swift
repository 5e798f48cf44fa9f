import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurablePostgres
import Foundation
import Logging
import PostgresNIO
import Synchronization
import Testing

/// PostgreSQL's notifications say what a commit changed (migrations/postgres/0008),
/// so that a listening engine reads only what concerns it: the trigger's kinds for
/// each sort of commit, read from a real server, and engines that learn of each
/// other's commits from notifications alone (no safety poll).
@Suite("PostgreSQL notifications")
struct PostgresNotificationTests {
    typealias Kinds = PostgresChangeNotice.Kinds

    @Test("a payload is '<kinds>:<session>'; one in another form counts as every kind")
    func payloads() {
        #expect(PostgresChangeNotice(payload: "wncd:durable-1") == PostgresChangeNotice(kinds: .all, session: "durable-1"))
        #expect(PostgresChangeNotice(payload: "c:durable-1") == PostgresChangeNotice(kinds: .completions, session: "durable-1"))
        #expect(PostgresChangeNotice(payload: "n:a:b") == PostgresChangeNotice(kinds: [.work, .claimableWork], session: "a:b"))
        #expect(PostgresChangeNotice(payload: ":psql") == PostgresChangeNotice(kinds: [], session: "psql"))
        #expect(PostgresChangeNotice(payload: "durable-1") == PostgresChangeNotice(kinds: .all, session: "durable-1"))
        #expect(PostgresChangeNotice(payload: "wx:s") == PostgresChangeNotice(kinds: .all, session: "s"))
        #expect(PostgresChangeNotice(payload: "wd:s") == PostgresChangeNotice(kinds: [.work, .timers], session: "s"))
    }

    @Test("each sort of commit notifies the kinds its listeners read, and only those")
    func kindsOfCommits() async throws {
        try await StoreFixture.postgres.withStore { harness in
            let store = try #require(harness.store as? PostgresStore)
            let listener = ChannelListener(store)
            try await listener.start()
            defer { listener.stop() }
            let start = StoreHarness.start

            let due = try await listener.kinds { _ = try await harness.create() }
            #expect(due.kinds == [.work, .claimableWork])
            #expect(due.sessions == [store.database.sessionName])

            // Not due by the server's clock (the trigger's "now"): work to read, none to
            // claim; due after its creation: the next due time may have changed.
            let later = try await listener.kinds { _ = try await harness.create(runAt: Int64.max / 2) }
            #expect(later.kinds == [.work, .timers])

            var run: ClaimedRun?
            let claim = try await listener.kinds { run = try await harness.claim(limit: 1).first }
            let claimed = try #require(run)
            #expect(claim.kinds == [], "a claim wakes nobody's reads")
            #expect(claim.sessions.count >= 1, "but still notifies (changeSignals)")

            let cancel = try await listener.kinds {
                _ = try await store.requestCancel(of: claimed.id, message: "stop", now: start + 1)
            }
            #expect(cancel.kinds == [.work], "the running task's worker reads its cancel request")

            let finish = try await listener.kinds {
                try await harness.complete(claimed, .succeeded(result: "1"), now: start + 2)
            }
            #expect(finish.kinds == [.completions])

            // A finish that frees a place under a concurrency limit makes work for other workers.
            let queue = try await listener.kinds {
                _ = try await store.updateQueue("limited", now: start + 3) { $0.concurrency = 1 }
            }
            #expect(queue.kinds == [.work, .claimableWork, .timers])
            var limited = StoreHarness.newTask(input: "2")
            limited.queue = "limited"
            _ = try await store.createTasks([limited], now: start + 4)
            let limitedRun = try #require(try await harness.claim(limit: 1, now: start + 5).first)
            let limitedFinish = try await listener.kinds {
                try await harness.complete(limitedRun, .succeeded(result: "2"), now: start + 6)
            }
            #expect(limitedFinish.kinds == [.work, .completions])

            var keyed = StoreHarness.newTask(input: "3")
            keyed.concurrencyKey = "k"
            keyed.concurrencyLimit = 1
            _ = try await store.createTasks([keyed], now: start + 7)
            let keyedRun = try #require(try await harness.claim(limit: 1, now: start + 8).first)
            let keyedFinish = try await listener.kinds {
                try await harness.complete(keyedRun, .succeeded(result: "3"), now: start + 9)
            }
            #expect(keyedFinish.kinds.isSuperset(of: [.work, .completions]))

            // A deadline: workers' deadline timers look again.
            let withDeadline = try await listener.kinds { _ = try await harness.create(deadline: Int64.max / 2) }
            #expect(withDeadline.kinds == [.work, .claimableWork, .timers])

            let prune = try await listener.kinds {
                _ = try await store.prune(finishedBefore: Int64.max, statuses: [.succeeded], limit: 100)
            }
            #expect(prune.kinds == [.work, .claimableWork, .completions], "a deletion stores no task due later")
        }
    }

    @Test("engines learn of each other's new and delayed tasks, deadlines, cancel requests and finishes from notifications alone")
    func enginesWithoutSafetyPoll() async throws {
        let schema = PostgresTestServer.newSchemaName()
        let gates = Gates()
        // No safety poll, and no recovery loop (which reads every 5 s): only notifications wake.
        let noPoll: (inout PostgresConfiguration) -> Void = { $0.safetyPollInterval = .seconds(3600) }
        let noRecovery: (inout EngineConfiguration) -> Void = { $0.recoveryInterval = .seconds(86_400) }
        let worker = try await makePostgresEngine(schema: schema, gates: gates, configure: noRecovery, postgres: noPoll)
        let caller = try await makePostgresEngine(schema: schema, configure: noRecovery, postgres: noPoll)
        defer {
            try? caller.close()
            try? worker.close()
        }
        let running = Task { try await worker.run() }
        defer { running.cancel() }

        let echo = try await caller.createTask(Echo.self, "across")
        #expect(try await awaited("the other engine ran the task") { try await echo.value } == "across")

        // The worker found nothing due later when its claim drained; a delayed task
        // stored since (notified with kind d) makes it look again.
        let delayed = try await caller.createTask(Echo.self, "later", options: TaskOptions(delay: .milliseconds(300)))
        #expect(try await awaited("the other engine ran the delayed task") { try await delayed.value } == "later")
        // One stored by the worker's own engine (its own notifications are not read).
        let own = try await worker.createTask(Echo.self, "own", options: TaskOptions(delay: .milliseconds(300)))
        #expect(try await awaited("the worker's engine ran its own delayed task") { try await own.value } == "own")
        // A pending task whose deadline passes: the worker reads it after the kind d, and fails it then.
        let expiring = try await caller.createTask(
            Echo.self, "too late", options: TaskOptions(delay: .seconds(3600), deadline: Date().addingTimeInterval(0.3)))
        let expired = try await awaited("the worker failed the task whose deadline passed") {
            _ = try? await expiring.value
            return try await expiring.status()
        }
        #expect(expired == .failed)

        let held = try await caller.createTask(WaitAtGate.self, "held")
        await gates.waitForArrivals("held")
        #expect(try await held.cancel(message: "from the caller"))
        let value = try await awaited("the cancel request reached the running task") {
            try? await held.value
        }
        #expect(value == nil)
        #expect(try await held.status() == .cancelled)
        running.cancel()
        try await running.value
    }

    @Test("a wait that begins after another engine finished the task reads it, while the store still listens")
    func waitAfterAnUnawaitedCompletion() async throws {
        let schema = PostgresTestServer.newSchemaName()
        let noRecovery: (inout EngineConfiguration) -> Void = { $0.recoveryInterval = .seconds(86_400) }
        let worker = try await makePostgresEngine(schema: schema, configure: noRecovery)
        // Keeps listening after each wait, with no safety poll: only notifications and the reads they leave.
        let caller = try await makePostgresEngine(schema: schema, configure: noRecovery) {
            $0.safetyPollInterval = .seconds(3600)
            $0.listenLinger = .seconds(3600)
        }
        defer {
            try? caller.close()
            try? worker.close()
        }
        let running = Task { try await worker.run() }
        defer { running.cancel() }

        let first = try await caller.createTask(Echo.self, "first")
        #expect(try await awaited("the first task's value") { try await first.value } == "first")
        // Finished while nothing in the caller awaits it: its notification is not read then.
        let second = try await caller.createTask(Echo.self, "second")
        try await poll("the worker finished the second task") { try await second.status() == .succeeded }
        #expect(try await awaited("the second task's value") { try await second.value } == "second")
        running.cancel()
        try await running.value
    }

    @Test("the store stops listening once no wait began for listenLinger")
    func listeningEndsAfterTheLinger() async throws {
        let engine = try await makePostgresEngine(postgres: { $0.listenLinger = .milliseconds(200) })
        defer { try? engine.close() }
        let store = try #require(engine.store as? PostgresStore)
        let listening = """
            SELECT count(*) FROM pg_stat_activity
            WHERE application_name = '\(store.database.sessionName)' AND query LIKE 'LISTEN %'
            """
        let listeners = { @Sendable in
            try await store.database.client.query(PostgresQuery(unsafeSQL: listening)).collect().first?.decode(Int64.self)
        }
        let task = try await engine.createTask(Echo.self, "x")
        let waiting = Task { try await task.value }
        try await poll("a wait listens") { try await listeners() == 1 }
        let running = Task { try await engine.run() }
        #expect(try await waiting.value == "x")
        running.cancel()
        try await running.value
        try await poll("the listening ended after the linger") { try await listeners() == 0 }
    }

    /// What `operation` returns, awaited in a task of its own: fails with `what`
    /// after 60 s, leaving that task waiting, instead of hanging the test run (a
    /// wait for a task's value ends only when the task does).
    private func awaited<T: Sendable>(_ what: String, _ operation: @escaping @Sendable () async throws -> T)
        async throws -> T
    {
        let box = OutcomeBox<T>()
        Task {
            do {
                box.set(.success(try await operation()))
            } catch {
                box.set(.failure(error))
            }
        }
        try await poll(what) { box.outcome != nil }
        return try #require(box.outcome).get()
    }
}

/// The outcome of an operation awaited in a task of its own.
private final class OutcomeBox<T: Sendable>: Sendable {
    private let state = Mutex<Result<T, any Error>?>(nil)
    var outcome: Result<T, any Error>? { state.withLock { $0 } }
    func set(_ outcome: Result<T, any Error>) { state.withLock { $0 = outcome } }
}

/// Listens on a store's channel on a connection of its own and hands out the
/// notifications each step caused: after the step it sends a marker of its own
/// and waits for it, so everything the step committed has arrived.
private final class ChannelListener: Sendable {
    private struct State {
        var payloads: [String] = []
        var listening = false
        var task: Task<Void, any Error>?
    }

    private let store: PostgresStore
    private let state = Mutex(State())
    private let markers = Atomic<Int>(0)
    private var channel: String { "durable_" + store.configuration.schema }

    init(_ store: PostgresStore) {
        self.store = store
    }

    func start() async throws {
        let channel = channel
        let task = Task { [self] in
            try await store.database.client.withConnection { connection in
                try await connection.listen(on: channel) { notifications in
                    state.withLock { $0.listening = true }
                    for try await notification in notifications {
                        state.withLock { $0.payloads.append(notification.payload) }
                    }
                }
            }
        }
        state.withLock { $0.task = task }
        try await poll("the test listens on \(channel)") { state.withLock { $0.listening } }
    }

    func stop() {
        state.withLock { $0.task?.cancel() }
    }

    /// The kinds and sessions of what `step` notified.
    func kinds(of step: () async throws -> Void) async throws -> (kinds: PostgresChangeNotice.Kinds, sessions: Set<String>) {
        state.withLock { $0.payloads = [] }
        try await step()
        let marker = "marker-\(markers.add(1, ordering: .relaxed).newValue)"
        _ = try await store.database.client.query("SELECT pg_notify(\(channel), \(marker))")
        try await poll("the marker \(marker) arrived") { state.withLock { $0.payloads.contains(marker) } }
        let notes = state.withLock { $0.payloads.prefix { $0 != marker } }.map(PostgresChangeNotice.init(payload:))
        return (notes.reduce(into: []) { $0.formUnion($1.kinds) }, Set(notes.map(\.session)))
    }
}
