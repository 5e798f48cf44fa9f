import DurableTestKit
@testable import DurableEngine
@testable import DurableSQLite
import Foundation
import Logging
import Synchronization
import Testing

/// The SQLite change feed stops using the store's connection before the store
/// closes it: a read on a closed GRDB connection crashes the process (seen once
/// in a `durable run` that ended while the feed read).
@Suite("SQLite change feed: stop before close")
struct ChangeFeedCloseTests {
    /// Wants everything read after every look, and counts the reads.
    final class BusyReader: ChangeReader {
        let reads = Mutex(0)
        var completionsWanted: Int64? { 0 }
        func received(_ page: CompletionPage) { reads.withLock { $0 += 1 } }
        var awaitedTasks: [TaskID] { [] }
        func missing(_ ids: [TaskID]) {}
        var workerInterest: WorkerInterest? {
            WorkerInterest(owner: "w", readsCancelRequests: true, looksForWork: true, jobs: nil, now: 0)
        }
        func received(_ changes: WorkerChanges) { reads.withLock { $0 += 1 } }
        var waitsBriskly: Bool { true }
        func changedByOthers() {}
    }

    @Test("closing the store while the feed reads at every look never uses a closed connection")
    func closeWhileReading() async throws {
        let directory = TemporaryDirectory()
        var configuration = SQLiteConfiguration()
        configuration.changePollInterval = .microseconds(4)
        for round in 0..<100 {
            let store = try SQLiteStore(path: directory.file("feed-\(round).sqlite"), configuration: configuration, now: 0)
            let reader = BusyReader()
            let feed = store.makeChangeFeed(reporting: reader, logger: Logger(label: "test"))
            feed.subscribe()
            // Reads are forced at every look while the store closes under them.
            for _ in 0..<(round % 7) { feed.readSoon() }
            try await eventually("the feed read") { reader.reads.withLock { $0 } > 0 }
            feed.readSoon()
            feed.stop()
            try store.close()
            let after = reader.reads.withLock { $0 }
            try await Task.sleep(for: .milliseconds(1))
            #expect(reader.reads.withLock { $0 } == after, "no read after stop (round \(round))")
        }
    }
}
