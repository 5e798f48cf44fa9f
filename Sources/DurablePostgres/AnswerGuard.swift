import Synchronization

/// Waits for a connection's work, but not for a connection that is gone.
///
/// A connection the server ends while a statement waits for its answer
/// (`pg_terminate_backend`, a restart) can leave postgres-nio waiting for that
/// answer for good, cancellation or not; a network cut leaves the socket open
/// with nothing coming. The work runs in a task of its own; it is given up once
/// the connection has been closed for a moment with the work still waiting, or
/// when no statement of it was answered for `timeout` (each answer restarts the
/// wait: a long transaction of many quick statements is fine). Then `giveUp`
/// runs first (it closes the connection and stops a `COMMIT` from being sent),
/// and only then does the caller get ``NoAnswer``. The stuck task is left to end
/// whenever it does.
enum AnswerGuard {
    /// The work did not end: its connection closed under it, or the server said
    /// nothing for too long.
    struct NoAnswer: Error, CustomStringConvertible {
        var description: String
    }

    /// When the work's last statement was answered; `rows(_:)` notes each answer.
    final class Progress: Sendable {
        private let last = Mutex(ContinuousClock.now)
        func answered() { last.withLock { $0 = .now } }
        var silence: Duration { .now - last.withLock { $0 } }
    }

    /// The progress of the guarded work running in this task, if any.
    @TaskLocal static var progress: Progress?

    /// How often the connection is looked at.
    private static let look = Duration.milliseconds(250)

    /// Runs `work` in a task of its own (on `executor` when given) and waits
    /// for it, or gives it up as described above.
    static func run<T: Sendable>(
        timeout: Duration?, executor: (any TaskExecutor)? = nil, isClosed: @escaping @Sendable () -> Bool,
        giveUp: @escaping @Sendable () -> Void, _ work: @escaping @Sendable () async throws -> T
    ) async throws -> T {
        let continuation = Mutex<CheckedContinuation<T, any Error>?>(nil)
        let take: @Sendable () -> CheckedContinuation<T, any Error>? = {
            continuation.withLock { stored in
                defer { stored = nil }
                return stored
            }
        }
        let worker = Mutex<Task<Void, Never>?>(nil)
        let progress = Progress()
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiting: CheckedContinuation<T, any Error>) in
                continuation.withLock { $0 = waiting }
                let timer = Task {
                    guard let reason = await watch(progress, timeout: timeout, isClosed: isClosed),
                        let waiting = take()
                    else { return }
                    giveUp()
                    waiting.resume(throwing: NoAnswer(description: reason))
                }
                worker.withLock {
                    $0 = Task(executorPreference: executor) {
                        let result: Result<T, any Error>
                        do {
                            result = .success(try await $progress.withValue(progress) { try await work() })
                        } catch {
                            result = .failure(error)
                        }
                        timer.cancel()
                        take()?.resume(with: result)
                    }
                }
            }
        } onCancel: {
            worker.withLock { $0 }?.cancel()
        }
    }

    /// Why the work is given up, once it is; `nil` when cancelled (the work ended).
    private static func watch(_ progress: Progress, timeout: Duration?, isClosed: @Sendable () -> Bool) async
        -> String?
    {
        var closedLooks = 0
        while true {
            guard (try? await Task.sleep(for: look)) != nil else { return nil }
            closedLooks = isClosed() ? closedLooks + 1 : 0
            if closedLooks >= 2 { return "the connection closed while a statement waited for its answer" }
            if let timeout, progress.silence > timeout { return "no answer from the server in \(timeout)" }
        }
    }
}
