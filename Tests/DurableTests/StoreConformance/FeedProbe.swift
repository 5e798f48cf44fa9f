@testable import DurableEngine
import DurableTestKit
import Logging
import Synchronization
import Testing

/// Reads once through a store's change feed, as an engine does after another
/// process's commit: the completions after a number, and what a worker wants
/// (its cancel requests, whether work is claimable, the earliest deadline).
/// The conformance suite checks the feed's reads through the protocol with it.
final class FeedProbe: ChangeReader {
    private struct State {
        var next: Int64?
        var pages: [CompletionPage] = []
        var interest: WorkerInterest
        var changes: WorkerChanges?
    }

    private let state: Mutex<State>

    init(completionsAfter: Int64?, interest: WorkerInterest) {
        state = Mutex(State(next: completionsAfter, interest: interest))
    }

    /// Subscribes to a feed of `store` until it has read once, then stops it.
    static func read(
        _ store: any TaskStore, completionsAfter: Int64? = nil, interest: WorkerInterest
    ) async throws -> (pages: [CompletionPage], worker: WorkerChanges) {
        let probe = FeedProbe(completionsAfter: completionsAfter, interest: interest)
        let feed = store.makeChangeFeed(reporting: probe, logger: Logger(label: "conformance"))
        feed.subscribe()
        feed.readSoon()
        defer {
            feed.unsubscribe()
            feed.stop()
        }
        try await eventually("the change feed read once") { probe.state.withLock { $0.changes != nil } }
        return try probe.state.withLock { state in
            (state.pages, try #require(state.changes))
        }
    }

    var completionsWanted: Int64? { state.withLock { $0.next } }

    func received(_ page: CompletionPage) {
        state.withLock { state in
            guard state.changes == nil else { return }
            state.pages.append(page)
            // A short page ends the reading; a full one asks for the next.
            state.next = page.outcomes.isEmpty ? nil : page.outcomes.last?.completionSequence
        }
    }

    var awaitedTasks: [TaskID] { [] }

    func missing(_ ids: [TaskID]) {}

    func changedByOthers() {}

    var workerInterest: WorkerInterest? { state.withLock { $0.changes == nil ? $0.interest : nil } }

    func received(_ changes: WorkerChanges) {
        state.withLock { state in
            if state.changes == nil {
                state.changes = changes
                state.next = nil
            }
        }
    }

    var waitsBriskly: Bool { false }
}
