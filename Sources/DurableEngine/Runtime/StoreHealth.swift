import Foundation
import Synchronization

/// Whether this process's worker can store its work: each commit of the worker's
/// cycle reports here, ``TaskEngine/health`` reads it.
///
/// States: healthy → failing (the first failed commit; `failingSince` set, a
/// timer armed for `timeout`) → waiters failed (the timer fired while still
/// failing: this process's waiters outside jobs are told, and new waits fail at
/// once) → healthy again at the next successful commit or when the worker stops,
/// from either failing state. Only the worker moves between them; the timer only
/// moves failing to waiters failed, and only for the failure it was armed for.
final class StoreHealth: Sendable {
    private struct State {
        var failingSince: Int64?
        var lastError: DurableError?
        var timer: Task<Void, Never>?
        var waitersFailed = false
    }

    private let state = Mutex(State())
    private let hub: CompletionHub
    private let clock: any TaskClock
    private let timeout: Duration?

    init(hub: CompletionHub, clock: any TaskClock, timeout: Duration?) {
        self.hub = hub
        self.clock = clock
        self.timeout = timeout
    }

    var health: EngineHealth {
        state.withLock { state in
            guard let since = state.failingSince, let error = state.lastError else { return .healthy }
            return .storeFailing(since: Date(timeIntervalSince1970: Double(since) / 1000), error: error)
        }
    }

    /// Whether commits have failed for longer than the timeout (waiters were told).
    var failedPastTimeout: Bool { state.withLock { $0.waitersFailed } }

    /// A commit of the worker's cycle failed with `error`.
    func commitFailed(_ error: any Error) {
        let durable = error as? DurableError ?? DurableError(.storage, "\(error)")
        let now = clock.now()
        let since = state.withLock { state -> Int64? in
            state.lastError = durable
            guard state.failingSince == nil else { return nil }
            state.failingSince = now
            return now
        }
        guard let since, let timeout else { return }
        let timer = Task { [clock] in
            do {
                // Counted from the first failure, however late this task starts.
                try await clock.sleep(until: since.adding(milliseconds: timeout.milliseconds))
            } catch {
                return
            }
            self.failWaiters(ifFailingSince: since, for: timeout)
        }
        state.withLock { state in
            if state.failingSince == since, state.timer == nil { state.timer = timer } else { timer.cancel() }
        }
    }

    /// A commit of the worker's cycle succeeded; `true` when commits had failed
    /// before it.
    @discardableResult
    func commitSucceeded() -> Bool {
        reset()
    }

    /// Back to healthy (a commit succeeded, or the worker stopped); `true` when
    /// it was failing.
    @discardableResult
    func reset() -> Bool {
        // The hub is told under this lock, so that a timer firing meanwhile
        // cannot fail the hub's waiters after it was cleared.
        state.withLock { state -> Bool in
            guard state.failingSince != nil else { return false }
            state.timer?.cancel()
            if state.waitersFailed { hub.clearStoreFailure() }
            state = State()
            return true
        }
    }

    private func failWaiters(ifFailingSince since: Int64, for timeout: Duration) {
        state.withLock { state in
            guard state.failingSince == since, let last = state.lastError else { return }
            state.waitersFailed = true
            hub.failWaiters(
                with: DurableError(
                    .storeUnavailable, "this process could not store its work for \(timeout): \(last.message)"))
        }
    }
}
