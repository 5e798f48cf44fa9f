import Synchronization

/// An async mutual exclusion per key: `withLock(key)` runs one body per key at a
/// time, the others wait suspended (never blocking a thread), in arrival order.
final class AsyncKeyedLock: Sendable {
    private struct State {
        var held: Set<String> = []
        var waiters: [String: [CheckedContinuation<Void, Never>]] = [:]
    }

    private let state = Mutex(State())

    func withLock<T>(_ key: String, _ body: () async throws -> T) async rethrows -> T {
        await acquire(key)
        defer { release(key) }
        return try await body()
    }

    private func acquire(_ key: String) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state -> Bool in
                if state.held.insert(key).inserted { return true }
                state.waiters[key, default: []].append(continuation)
                return false
            }
            if acquired { continuation.resume() }
        }
    }

    private func release(_ key: String) {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard var waiting = state.waiters[key], !waiting.isEmpty else {
                state.held.remove(key)
                return nil
            }
            let next = waiting.removeFirst()
            state.waiters[key] = waiting.isEmpty ? nil : waiting
            return next
        }
        next?.resume()
    }
}
