import DurableTestKit
import Durable
@testable import DurableEngine
@testable import DurableSQLite
@testable import DurablePostgres
import Foundation
import Logging
import Testing

/// The store conformance suite: every transition rule of ``TaskStore``, checked
/// through the protocol alone on every store in ``StoreFixture/all``. A new store
/// (PostgreSQL) passes when it adds its fixture there and every test passes on it.
///
/// Tests pass fixed times (`StoreHarness.start` and offsets from it) to every
/// store call and never read a clock.
@Suite("Store conformance")
enum StoreConformance {}

/// How a test gets a new, empty store of one kind.
///
/// A fixture holds everything specific to its store; the tests see only
/// `any TaskStore`. Should a rule ever need a state the protocol cannot reach,
/// the fixture gets a named operation for it (none is needed so far).
struct StoreFixture: Sendable, CustomTestStringConvertible {
    /// Shown in test names: `wrongOwner(fixture: SQLite)`.
    let name: String
    /// Opens a new empty store; the second value is whatever must outlive it
    /// (a temporary directory) until it is closed.
    private let open: @Sendable () async throws -> (store: any ConformingStore, resources: any Sendable)
    /// Removes what the store left behind (a PostgreSQL schema); closes the store.
    private let discard: @Sendable (any ConformingStore) async -> Void

    init(
        name: String, open: @escaping @Sendable () async throws -> (store: any ConformingStore, resources: any Sendable),
        discard: @escaping @Sendable (any ConformingStore) async -> Void = { try? $0.close() }
    ) {
        self.name = name
        self.open = open
        self.discard = discard
    }

    var testDescription: String { name }

    /// Every store the suite runs on.
    static let all: [StoreFixture] = PostgresTestServer.missingReason == nil ? [sqlite, postgres] : [sqlite]

    /// An ``SQLiteStore`` on a new file in a temporary directory.
    static let sqlite = StoreFixture(name: "SQLite") {
        let directory = TemporaryDirectory()
        var configuration = SQLiteConfiguration()
        configuration.durability = .processCrashSafe
        configuration.lockTimeout = .seconds(30)
        let store = try SQLiteStore(
            path: directory.file("conformance.sqlite"), configuration: configuration, now: StoreHarness.start)
        return (store: store as any ConformingStore, resources: directory as any Sendable)
    }

    /// A ``PostgresStore`` in a new schema of the test server (dropped afterwards).
    static let postgres = StoreFixture(name: "PostgreSQL") {
        let store = try await PostgresStore.open(
            configuration: try PostgresTestServer.configuration(), now: StoreHarness.start, host: "conformance",
            logger: Logger(label: "conformance"))
        return (store: store as any ConformingStore, resources: () as any Sendable)
    } discard: { store in
        try? await (store as? PostgresStore)?.dropSchema()
        try? store.close()
    }

    /// Runs `body` on a new empty store, then closes the store.
    func withStore(_ body: (StoreHarness) async throws -> Void) async throws {
        let opened = try await open()
        do {
            try await body(StoreHarness(store: opened.store))
        } catch {
            await discard(opened.store)
            throw error
        }
        await discard(opened.store)
        withExtendedLifetime(opened.resources) {}
    }
}

/// A task claimed by `owner`: what its run knows to complete it.
struct ClaimedRun: Sendable {
    var task: ClaimedTask
    var owner: String

    var id: TaskID { task.id }
    var attempt: Int { task.attempt }

    /// This run's completion (or, with `owner` or `attempt` given, a forged one).
    func completion(_ ending: TaskCompletion.Ending, owner: String? = nil, attempt: Int? = nil) -> TaskCompletion {
        TaskCompletion(
            id: task.id, owner: owner ?? self.owner, attempt: attempt ?? task.attempt, startedAt: task.startedAt,
            ending: ending)
    }
}

/// What the suite checks: the protocol every store implements, and the
/// optional abilities it inspects and administers through.
typealias ConformingStore = InspectableStore & AdministrableStore

/// Protocol-only shorthands over the store under test.
struct StoreHarness: Sendable {
    let store: any ConformingStore

    /// The time every test starts at (Unix milliseconds); tests move on from it.
    static let start: Int64 = 1_700_000_000_000
    /// The lease claims get unless a test says otherwise.
    static let lease: Int64 = 30_000

    static func failure(_ message: String = "boom") -> StoredError {
        StoredError(kind: .failed, type: "Conformance.Failure", message: message)
    }

    static func cancellation(_ message: String = "stop") -> StoredError {
        StoredError(kind: .cancelled, type: "Durable.CancelledError", message: message)
    }

    static func interruption() -> StoredError {
        StoredError(kind: .interrupted, type: "Conformance.Stop", message: "handed back")
    }

    static func newTask(
        job: String = "job", input: String = "1", key: String? = nil, priority: Int = 0, runAt: Int64 = start,
        deadline: Int64? = nil, parentID: TaskID? = nil, detached: Bool = false, groupID: GroupID? = nil
    ) -> NewTask {
        NewTask(
            job: job, input: input, name: nil, context: nil, key: key, priority: priority, runAt: runAt,
            deadline: deadline, parentID: parentID, detached: detached, groupID: groupID, callbackOf: nil)
    }

    /// Creates one task and returns its id.
    @discardableResult
    func create(
        job: String = "job", input: String = "1", key: String? = nil, priority: Int = 0, runAt: Int64 = start,
        deadline: Int64? = nil, parentID: TaskID? = nil, detached: Bool = false, groupID: GroupID? = nil,
        now: Int64 = start
    ) async throws -> TaskID {
        let task = Self.newTask(
            job: job, input: input, key: key, priority: priority, runAt: runAt, deadline: deadline,
            parentID: parentID, detached: detached, groupID: groupID)
        return try await store.createTasks([task], now: now)[0].id
    }

    /// Creates `count` unkeyed tasks of `job` in one call.
    func create(count: Int, job: String = "job", now: Int64 = start) async throws -> [TaskID] {
        let tasks = (0..<count).map { Self.newTask(job: job, input: String($0)) }
        return try await store.createTasks(tasks, now: now).map(\.id)
    }

    /// Claims (without completing anything) up to `limit` due tasks for `owner`.
    func claim(
        owner: String = "w1", limit: Int = 100, jobs: [String]? = nil, now: Int64 = start, leaseUntil: Int64? = nil
    ) async throws -> [ClaimedRun] {
        let request = ClaimRequest(owner: owner, limit: limit, jobs: jobs, leaseUntil: leaseUntil ?? now + Self.lease)
        let claimed = try await store.completeAndClaim([], claim: request, now: now).claimed
        return claimed.map { ClaimedRun(task: $0, owner: owner) }
    }

    /// Claims for `owner` and requires that exactly task `id` was claimed.
    func claimOnly(
        _ id: TaskID, owner: String = "w1", now: Int64 = start, leaseUntil: Int64? = nil,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async throws -> ClaimedRun {
        let runs = try await claim(owner: owner, now: now, leaseUntil: leaseUntil)
        try #require(runs.map(\.id) == [id], sourceLocation: sourceLocation)
        return runs[0]
    }

    /// Commits completions, nothing claimed.
    @discardableResult
    func complete(_ completions: [TaskCompletion], now: Int64) async throws -> CycleResult {
        try await store.completeAndClaim(completions, claim: nil, now: now)
    }

    /// Commits one run's ending.
    @discardableResult
    func complete(_ run: ClaimedRun, _ ending: TaskCompletion.Ending, now: Int64) async throws -> CycleResult {
        try await complete([run.completion(ending)], now: now)
    }

    /// The stored task, which must exist.
    func record(_ id: TaskID, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TaskRecord {
        try #require(try await store.task(id), "task \(id) is not stored", sourceLocation: sourceLocation)
    }

    /// The stored status, which must exist.
    func status(_ id: TaskID, sourceLocation: SourceLocation = #_sourceLocation) async throws -> TaskStatus {
        try await record(id, sourceLocation: sourceLocation).status
    }

    // MARK: Reads through the change feed

    /// Running tasks of `owner` with a cancel request, as the feed reads them.
    func cancelRequests(owner: String, now: Int64 = start) async throws -> [TaskID: String?] {
        let interest = WorkerInterest(owner: owner, readsCancelRequests: true, looksForWork: false, jobs: nil, now: now)
        return try await FeedProbe.read(store, interest: interest).worker.cancelRequests
    }

    /// Whether the feed reports claimable work for `jobs` (`nil`: any) at `now`.
    func hasClaimableTask(jobs: [String]?, now: Int64) async throws -> Bool {
        let interest = WorkerInterest(owner: "probe", readsCancelRequests: false, looksForWork: true, jobs: jobs, now: now)
        let claimable = try await FeedProbe.read(store, interest: interest).worker.hasClaimableTask
        guard let claimable else { throw DurableError(.invalidState, "the feed did not look for work") }
        return claimable
    }

    /// The earliest pending deadline, as the feed reads it.
    func earliestPendingDeadline() async throws -> Int64? {
        let interest = WorkerInterest(owner: "probe", readsCancelRequests: false, looksForWork: false, jobs: nil, now: 0)
        return try await FeedProbe.read(store, interest: interest).worker.earliestPendingDeadline
    }

    /// The completions after `sequence` as the feed reads them, cut to `limit`:
    /// a cut page is complete through its last number.
    func completions(after sequence: Int64, limit: Int) async throws -> CompletionPage {
        let interest = WorkerInterest(owner: "probe", readsCancelRequests: false, looksForWork: false, jobs: nil, now: 0)
        let pages = try await FeedProbe.read(store, completionsAfter: sequence, interest: interest).pages
        let outcomes = pages.flatMap(\.outcomes)
        guard outcomes.count > limit else {
            return CompletionPage(outcomes: outcomes, coveredThrough: pages.last?.coveredThrough ?? sequence)
        }
        let cut = Array(outcomes.prefix(limit))
        return CompletionPage(outcomes: cut, coveredThrough: cut.last?.completionSequence ?? sequence)
    }

    /// Ids of every stored task of `job`, oldest first.
    func ids(ofJob job: String) async throws -> [TaskID] {
        try await store.tasks(matching: TaskQuery(job: job, limit: 10_000)).map(\.id).sorted()
    }
}

extension DurableError.Code {
    /// Whether `error` is a ``DurableError`` with this code.
    func matches(_ error: any Error) -> Bool {
        (error as? DurableError)?.code == self
    }
}
