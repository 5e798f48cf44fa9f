import Synchronization

/// Waits for a connection's work, but not for a connection that is gone.
///
/// A connection the server ends while a statement waits for its answer
/// (`pg_terminate_backend`, a restart) can leave postgres-nio waiting for that
/// answer for good, cancellation or not; a network cut leaves the socket open
/// with nothing coming. The work runs in a task of its own; the caller gets
/// ``NoAnswer`` (and `giveUp` runs: it closes the connection) once the
/// connection has been closed for a moment with the work still waiting, or
/// after `timeout` in any case. The stuck task is left to end whenever it does.
enum AnswerGuard {
    /// The work did not end: its connection closed under it, or it took longer
    /// than the timeout.
    struct NoAnswer: Error, CustomStringConvertible {
        var description: String
    }

    /// How often the connection is looked at.
    private static let look = Duration.milliseconds(250)

    static func run<T: Sendable>(
        timeout: Duration?, isClosed: @escaping @Sendable () -> Bool, giveUp: @escaping @Sendable () -> Void,
        _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)
        let finish: @Sendable (Result<T, any Error>) -> Bool = { result in
            guard
                let waiting = continuation.withLock({ stored -> CheckedContinuation<T, any Error>? in
                    defer { stored = nil }
                    return stored
                })
            else { return false }
            waiting.resume(with: result)
            return true
        }
        let worker = Mutex<Task<Void, Never>?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiting: CheckedContinuation<T, any Error>) in
                continuation.withLock { $0 = waiting }
                let timer = Task {
                    guard let reason = await watch(timeout: timeout, isClosed: isClosed) else { return }
                    if finish(.failure(NoAnswer(description: reason))) { giveUp() }
                }
                worker.withLock {
                    $0 = Task {
                        let result: Result<T, any Error>
                        do { result = .success(try await work()) } catch { result = .failure(error) }
                        timer.cancel()
                        _ = finish(result)
                    }
                }
            }
        } onCancel: {
            worker.withLock { $0 }?.cancel()
        }
    }

    /// Why the work is given up, once it is; `nil` when cancelled (the work ended).
    private static func watch(timeout: Duration?, isClosed: @Sendable () -> Bool) async -> String? {
        let start = ContinuousClock.now
        var closedLooks = 0
        while true {
            guard (try? await Task.sleep(for: look)) != nil else { return nil }
            closedLooks = isClosed() ? closedLooks + 1 : 0
            if closedLooks >= 2 { return "the connection closed while a statement waited for its answer" }
            if let timeout, ContinuousClock.now - start > timeout { return "no answer from the server in \(timeout)" }
        }
    }
}
