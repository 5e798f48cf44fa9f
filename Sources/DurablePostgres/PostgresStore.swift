package import DurableEngine
package import Logging
import PostgresNIO
import Synchronization

/// The PostgreSQL conformance of ``TaskStore``, on postgres-nio.
///
/// Many engines, on as many machines, share one database: claims lock the rows
/// they take with `FOR UPDATE SKIP LOCKED`, so claimers never wait for each
/// other; a worker's completions and its next claim commit in one transaction;
/// completions are fenced by owner and attempt; leases are written and judged
/// with the database's clock (``PostgresConfiguration/LeaseClock``); commits
/// wake other engines through `LISTEN`/`NOTIFY` (``PostgresChangeFeed``).
package final class PostgresStore: TaskStore, InspectableStore, FileAppendingStore, AdministrableStore {
    let database: PostgresDatabase
    let configuration: PostgresConfiguration
    package let location: String
    package let access: DatabaseAccess
    package let completionSequenceAtOpen: Int64
    /// This machine's name, which qualifies the paths of appended files.
    let host: String
    let logger: Logger
    private let feeds = Mutex<[PostgresChangeFeed]>([])
    private let closed = Mutex(false)
    /// Whether queues with limits existed at the last claim: claims then run in
    /// a transaction that takes turns across every queue (the one-statement
    /// claims serve only queues without limits, and would starve the others).
    let limitedQueuesSeen = Mutex(false)
    /// The next due time, while no task due later was stored (``DueTimeMemory``).
    let dueTimes = DueTimeMemory()
    /// Until when (engine clock) claims leave the queues with limits alone
    /// after a claim in a transaction found none of them with room: meanwhile
    /// the queues without limits are claimed from in one statement, and the
    /// worker's due timer wakes it then (``nextDueTime(after:)``). A change
    /// that gives such a queue a claimable task ends it: this store's own
    /// settings changes, and others' commits (``hasClaimableTask(for:on:)``).
    let limitedQueuesRestUntil = Mutex<Int64>(0)
    /// How long that rest lasts when a queue is held back by its concurrency
    /// (or has nothing due): the longest such a queue that regains room waits
    /// for its turn.
    static let limitedQueuesRest: Int64 = 50
    /// The longest rest of a queue held back by its rate, which rests until
    /// its window opens again.
    static let limitedQueuesLongestRest: Int64 = 1000

    private init(
        database: PostgresDatabase, configuration: PostgresConfiguration, access: DatabaseAccess,
        completionSequenceAtOpen: Int64, host: String, logger: Logger
    ) {
        self.database = database
        self.configuration = configuration
        location = configuration.location
        self.access = access
        self.completionSequenceAtOpen = completionSequenceAtOpen
        self.host = host
        self.logger = logger
    }

    /// Connects, creates Durable's schema if needed and applies the missing
    /// migrations (or, with `appliesMigrations == false` or read-only access,
    /// only checks that none is missing).
    ///
    /// - Throws: ``DurableError`` naming host, port, database and schema when the
    ///   server cannot be reached, refuses the login, has no such database, or
    ///   holds a schema that is not Durable's or is newer than this build.
    package static func open(
        configuration: PostgresConfiguration, now: Int64, appliesMigrations: Bool = true,
        access: DatabaseAccess = .readWrite, host: String, logger: Logger
    ) async throws -> PostgresStore {
        try configuration.validate()
        try await PostgresDatabase.checkReachable(configuration, logger: logger)
        var opening = configuration
        // At open, an unreachable server is reported after the connect timeout,
        // not after the longer wait for a server that went away while running.
        opening.reconnectTimeout = configuration.connectTimeout
        let probe = PostgresDatabase(configuration: opening, logger: logger)
        let apply = appliesMigrations && access == .readWrite
        do {
            let schema = configuration.schema
            let location = configuration.location
            // The migration may wait for another process's (the advisory lock).
            try await probe.write("open the Durable schema", answerTimeout: nil) { connection in
                try await PostgresSchemaMigrator.migrate(
                    on: connection, schema: schema, location: location, now: now, apply: apply)
            }
            let sequence = try await probe.read("read the completion counter") { connection in
                try await Self.completionSequence(on: connection)
            }
            probe.close()
            let database = PostgresDatabase(configuration: configuration, logger: logger)
            return PostgresStore(
                database: database, configuration: configuration, access: access, completionSequenceAtOpen: sequence,
                host: host, logger: logger)
        } catch {
            probe.close()
            throw error
        }
    }

    // MARK: Running statements

    /// Runs `body` in a transaction, or as one statement committed on its own
    /// (see ``PostgresDatabase/write(_:answerTimeout:singleStatement:_:)``).
    ///
    /// `storesLaterWork: false` says that the write stores no pending task due
    /// later than its creation (the hot statements that create due tasks,
    /// claim, or end runs): the next due time known (``dueTimes``) still holds.
    /// Any other write, committed or not, makes it unknown.
    func write<T: Sendable>(
        _ operation: String, singleStatement: Bool = false, storesLaterWork: Bool = true,
        _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        guard access == .readWrite else {
            throw DurableError(.readOnlyDatabase, "\(location) is open read-only: cannot \(operation)")
        }
        try checkOpen(operation)
        // After the commit: a look-up whose snapshot missed it sees the count change.
        defer { if storesLaterWork { dueTimes.laterWorkChanged() } }
        return try await database.write(operation, singleStatement: singleStatement, body)
    }

    /// Runs `body` on a connection outside a transaction.
    func read<T: Sendable>(_ operation: String, _ body: @escaping @Sendable (PostgresConnection) async throws -> T)
        async throws -> T
    {
        try checkOpen(operation)
        return try await database.read(operation, body)
    }

    private func checkOpen(_ operation: String) throws {
        if closed.withLock({ $0 }) {
            throw DurableError(.invalidState, "\(location) is closed: cannot \(operation)")
        }
    }

    package func close() throws {
        let wasClosed = closed.withLock { closed in
            defer { closed = true }
            return closed
        }
        guard !wasClosed else { return }
        for feed in feeds.withLock({ $0 }) { feed.stop() }
        database.close()
    }

    /// The lease end to store for a claim or heartbeat made at `now` until
    /// `leaseUntil`, as an SQL expression: by the database's clock (the same
    /// length from the server's now) or as given.
    func leaseEnd(until leaseUntil: Int64, now: Int64) -> String {
        switch configuration.leaseClock {
        case .database: "(durable_now_ms() + \(max(0, leaseUntil - now)))"
        case .engine: "\(leaseUntil)"
        }
    }

    /// Binds a claim's lease end as the hot statements take it: a fixed end
    /// (the engine's clock) or NULL, then a duration after the database's clock.
    func bindLease(until leaseUntil: Int64, now: Int64, into statement: inout PostgresStatement) {
        switch configuration.leaseClock {
        case .database:
            statement.bind(Int64?.none)
            statement.bind(max(0, leaseUntil - now))
        case .engine:
            statement.bind(leaseUntil)
            statement.bind(Int64(0))
        }
    }

    /// The time before which a lease has ended, as an SQL expression.
    func leaseNow(_ now: Int64) -> String {
        switch configuration.leaseClock {
        case .database: "durable_now_ms()"
        case .engine: "\(now)"
        }
    }

    /// The highest completion number stored.
    static func completionSequence(on connection: PostgresConnection) async throws -> Int64 {
        try await connection.value(
            "SELECT value FROM durable_counters WHERE name = 'completion_seq'", as: Int64.self) ?? 0
    }

    package func appliedMigrations() async throws -> [AppliedMigration] {
        try await read("read the schema version") { connection in
            try await PostgresSchemaMigrator.applied(on: connection)
        }
    }

    package func makeChangeFeed(reporting reader: any ChangeReader, logger: Logger) -> any ChangeFeed {
        let feed = PostgresChangeFeed(store: self, reader: reader, logger: logger)
        feeds.withLock { $0.append(feed) }
        database.uncertainCommits.onUncertainCommit { [weak feed] in feed?.readSoon() }
        return feed
    }
}

extension PostgresStore {
    /// Deletes Durable's schema and everything in it (`DROP SCHEMA ... CASCADE`),
    /// then closes the store: for throwaway schemas (tests, benchmarks).
    package func dropSchema() async throws {
        let schema = PostgresSchemaMigrator.quoted(configuration.schema)
        try await write("drop schema \(configuration.schema)") { connection in
            try await connection.run(PostgresQuery(unsafeSQL: "DROP SCHEMA IF EXISTS \(schema) CASCADE"))
        }
        try close()
    }
}
