import Synchronization

/// Waits for a connection's work, but not for ever.
///
/// A connection the server ends while a statement waits for its answer
/// (`pg_terminate_backend`, a restart) can leave postgres-nio waiting for that
/// answer for good, cancellation or not. The work runs in a task of its own;
/// after `timeout` without an end the caller gets ``NoAnswer`` and `giveUp` runs
/// (it closes the connection), and the stuck task is left to end whenever it does.
enum AnswerGuard {
    /// The work did not end in time.
    struct NoAnswer: Error, CustomStringConvertible {
        var timeout: Duration
        var description: String { "no answer from the server in \(timeout)" }
    }

    static func run<T: Sendable>(
        timeout: Duration, giveUp: @escaping @Sendable () -> Void, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)
        let finish: @Sendable (Result<T, any Error>) -> Bool = { result in
            guard let waiting = continuation.withLock({ stored -> CheckedContinuation<T, any Error>? in
                defer { stored = nil }
                return stored
            }) else { return false }
            waiting.resume(with: result)
            return true
        }
        let worker = Mutex<Task<Void, Never>?>(nil)
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiting: CheckedContinuation<T, any Error>) in
                continuation.withLock { $0 = waiting }
                let timer = Task {
                    guard (try? await Task.sleep(for: timeout)) != nil else { return }
                    if finish(.failure(NoAnswer(timeout: timeout))) { giveUp() }
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
}
