import Synchronization

/// A clock that moves only when told to: for tests of leases, timeouts and
/// deadlines without real waiting.
///
/// ```swift
/// let clock = ManualClock(now: 1_000_000)
/// let engine = try TaskEngine(path: path, configuration: .init(clock: clock))
/// clock.advance(by: .seconds(31))   // leases of 30 s have now expired
/// ```
public final class ManualClock: TaskClock {
    private struct Sleeper {
        var deadline: Int64
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Int64
        var sleepers: [UInt64: Sleeper] = [:]
        var nextID: UInt64 = 0
    }

    private let state: Mutex<State>

    /// Creates a clock reading `now` Unix milliseconds.
    public init(now: Int64 = 1_700_000_000_000) {
        state = Mutex(State(now: now))
    }

    public func now() -> Int64 { state.withLock { $0.now } }

    /// How many tasks are sleeping on this clock; lets a test wait until a timer
    /// is armed before advancing. A worker's own timers (due work, deadlines,
    /// the grace period) share one sleeper, for the earliest of them; its
    /// heartbeat, its recovery loop and each running task's timeout sleep on
    /// their own.
    public var sleeperCount: Int { state.withLock { $0.sleepers.count } }

    /// Moves time forward and wakes every sleeper whose time has come.
    public func advance(by duration: Duration) {
        let due = state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            state.now = state.now.adding(milliseconds: duration.milliseconds)
            let ready = state.sleepers.filter { $0.value.deadline <= state.now }
            for id in ready.keys { state.sleepers[id] = nil }
            return ready.sorted { $0.value.deadline < $1.value.deadline }.map(\.value.continuation)
        }
        for continuation in due { continuation.resume() }
    }

    public func sleep(for duration: Duration) async throws {
        try await sleep { now in now.adding(milliseconds: duration.milliseconds) }
    }

    /// Suspends until the clock reads `deadline`, however far it was advanced
    /// between computing the deadline and calling this.
    public func sleep(until deadline: Int64) async throws {
        try await sleep { _ in deadline }
    }

    /// Suspends until the clock reaches the deadline computed (under the lock)
    /// from the time when the sleep begins.
    private func sleep(_ deadlineFrom: @escaping @Sendable (Int64) -> Int64) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let result = state.withLock { state -> Result<Void, any Error>? in
                    if Task.isCancelled { return .failure(CancellationError()) }
                    let deadline = deadlineFrom(state.now)
                    if deadline <= state.now { return .success(()) }
                    state.sleepers[id] = Sleeper(deadline: deadline, continuation: continuation)
                    return nil
                }
                if let result { continuation.resume(with: result) }
            }
        } onCancel: {
            let sleeper = state.withLock { $0.sleepers.removeValue(forKey: id) }
            sleeper?.continuation.resume(throwing: CancellationError())
        }
    }
}
