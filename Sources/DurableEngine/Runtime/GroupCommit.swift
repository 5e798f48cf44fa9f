import Synchronization

/// Concurrent calls share one write: group commit for callers.
///
/// A call made while no write is under way writes at once, alone (no waiting,
/// no extra task). Calls made while a write is under way queue; when the write
/// ends, the first of them writes every queued call's request together, and
/// the others get their results from that write. So 64 request handlers that
/// each create a task at the same moment pay for a few commits, not 64, and
/// each still returns only once its request is stored.
///
/// States (under `state`'s lock): idle (`writing == false`, queue empty) →
/// writing (a caller is the writer; others append to the queue) → the writer
/// hands the whole queue to its first caller, who becomes the writer, or goes
/// back to idle when the queue is empty. Only the writer changes `writing` from
/// true, and only a caller that found it false sets it.
///
/// The queued calls may also be taken by a writer outside (``takeQueued()``):
/// the worker's commit stores them in its own transaction, so that creations
/// made while a creation is written ride in the worker's next commit instead of
/// a commit of their own. Each queued call leaves the queue once, under the lock,
/// to exactly one writer.
///
/// A queued call is written even if its task is cancelled meanwhile (its
/// request is in the next write); cancelling the caller that writes does not
/// fail the others' requests (their write runs in a task of its own).
final class GroupCommit<Request: Sendable, Response: Sendable>: Sendable {
    /// Writes requests together; returns one result per request, in order.
    typealias Write = @Sendable ([Request]) async -> [Result<Response, any Error>]

    fileprivate enum Turn: Sendable {
        /// The caller's request was written with others: its result.
        case done(Result<Response, any Error>)
        /// The caller writes now: its request, then these queued calls'.
        case write([Waiting])
    }

    fileprivate struct Waiting: Sendable {
        var request: Request
        var continuation: CheckedContinuation<Turn, Never>
    }

    private struct State {
        var writing = false
        var queue: [Waiting] = []
    }

    private let state = Mutex(State())

    init() {}

    /// How many calls wait for the write under way.
    var queuedCount: Int { state.withLock { $0.queue.count } }

    /// Whether a write is under way (calls made now queue).
    var isWriting: Bool { state.withLock { $0.writing } }

    /// Writes `request`, alone or with the calls made meanwhile; returns once it
    /// is written. The call that writes uses its `write`: every call passes the
    /// same function.
    func submit(_ request: Request, write: @escaping Write) async throws -> Response {
        let turn = await withCheckedContinuation { (continuation: CheckedContinuation<Turn, Never>) in
            let writesNow = state.withLock { state in
                if state.writing {
                    state.queue.append(Waiting(request: request, continuation: continuation))
                    return false
                }
                state.writing = true
                return true
            }
            if writesNow { continuation.resume(returning: .write([])) }
        }
        switch turn {
        case .done(let result):
            return try result.get()
        case .write(let others):
            let batch = [request] + others.map(\.request)
            // A write for others too runs in a task of its own: cancelling this
            // caller must not fail theirs.
            let results = others.isEmpty ? await write(batch) : await Task { await write(batch) }.value
            for (index, waiting) in others.enumerated() {
                waiting.continuation.resume(returning: .done(Self.result(results, at: index + 1)))
            }
            let next = state.withLock { state in
                let queued = state.queue
                state.queue = []
                if queued.isEmpty { state.writing = false }
                return queued
            }
            // The first call that queued meanwhile writes next, with the rest.
            if let first = next.first { first.continuation.resume(returning: .write(Array(next.dropFirst()))) }
            return try Self.result(results, at: 0).get()
        }
    }

    /// Calls taken from the queue by a writer outside (``takeQueued()``), which
    /// writes their requests with its own and must pass their results to
    /// ``finish(_:with:)``.
    struct Riders: Sendable {
        fileprivate var waiting: [Waiting]
        /// The calls' requests, in the order they were made.
        var requests: [Request] { waiting.map(\.request) }
    }

    /// Takes every call queued behind the write under way, for a writer outside
    /// this type (the worker's commit) to write with its own; `nil` when none
    /// waits. A taken call leaves the queue, so exactly one writer answers it.
    func takeQueued() -> Riders? {
        let taken = state.withLock { state in
            let queued = state.queue
            state.queue = []
            return queued
        }
        return taken.isEmpty ? nil : Riders(waiting: taken)
    }

    /// Answers the calls taken by ``takeQueued()``: one result per request, in order.
    func finish(_ riders: Riders, with results: [Result<Response, any Error>]) {
        for (index, waiting) in riders.waiting.enumerated() {
            waiting.continuation.resume(returning: .done(Self.result(results, at: index)))
        }
    }

    /// The result at `index`; a write that returned too few fails the rest.
    private static func result(_ results: [Result<Response, any Error>], at index: Int) -> Result<Response, any Error> {
        guard index < results.count else {
            return .failure(DurableError(.storage, "a shared write returned \(results.count) result(s) for more requests"))
        }
        return results[index]
    }
}
