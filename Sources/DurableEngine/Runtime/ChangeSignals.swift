import Synchronization

/// Who wants to know that what is stored may have changed (the dashboard's live
/// pages): each listener has a stream that holds at most one pending signal,
/// so signals that come while it is busy collapse into one. Signalling with
/// no listener costs one lock.
final class ChangeSignals: Sendable {
    private struct State {
        var next = 0
        var listeners: [Int: AsyncStream<Void>.Continuation] = [:]
    }

    private let state = Mutex(State())

    /// A new listener's stream; `onEnd` runs once it ends (its consumer stopped
    /// iterating, or ``finishAll()``).
    func listen(onEnd: @escaping @Sendable () -> Void) -> AsyncStream<Void> {
        let (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        let id = state.withLock { state in
            defer { state.next += 1 }
            state.listeners[state.next] = continuation
            return state.next
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.listeners.removeValue(forKey: id) }
            onEnd()
        }
        return stream
    }

    /// Tells every listener to look again.
    func signal() {
        let listeners = state.withLock { $0.listeners.isEmpty ? [] : Array($0.listeners.values) }
        for listener in listeners { listener.yield() }
    }

    /// Ends every listener's stream (the engine is closing).
    func finishAll() {
        let listeners = state.withLock { state in
            defer { state.listeners = [:] }
            return Array(state.listeners.values)
        }
        for listener in listeners { listener.finish() }
    }
}
