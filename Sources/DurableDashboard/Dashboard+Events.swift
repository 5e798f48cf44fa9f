import DurableEngine
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization

// Live pages: server-sent events fed by the store's change feed.
extension Dashboard {
    /// What the events stream writes next.
    private enum Event: Sendable {
        case change
        case keepAlive
    }

    /// `GET /api/events`: server-sent events, `event: change` each time what is
    /// stored may have changed (another process's commit, as the engine's change
    /// feed notices it: no read of the database per open page), at most every
    /// 250 ms, and a comment line every 15 s so that idle connections stay open.
    /// The pages reload their content on each event.
    func eventsResponse() -> Response {
        let signals = engine.changeSignals()
        return Response(
            status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
            body: ResponseBody { writer in
                let (events, sink) = AsyncStream.makeStream(of: Event.self)
                // One change waits at most; more collapse into it.
                let changePending = PendingFlag()
                let feeder = Task {
                    await withTaskGroup(of: Void.self) { group in
                        group.addTask {
                            for await _ in signals {
                                if changePending.raise() { sink.yield(.change) }
                            }
                            sink.finish()
                        }
                        group.addTask {
                            while !Task.isCancelled {
                                try? await Task.sleep(for: .seconds(15))
                                sink.yield(.keepAlive)
                            }
                        }
                    }
                }
                defer {
                    feeder.cancel()
                    sink.finish()
                }
                try await writer.write(ByteBuffer(string: "retry: 2000\n\n"))
                // The server stopping (Ctrl-C) ends the stream, so that it does not
                // wait for the browser to go away.
                try await withGracefulShutdownHandler {
                    for await event in events {
                        switch event {
                        case .change:
                            changePending.lower()
                            try await writer.write(ByteBuffer(string: "event: change\ndata: {}\n\n"))
                            try await Task.sleep(for: .milliseconds(250))
                        case .keepAlive:
                            try await writer.write(ByteBuffer(string: ": still here\n\n"))
                        }
                    }
                } onGracefulShutdown: {
                    sink.finish()
                }
                try await writer.finish(nil)
            })
    }
}

/// Whether a change event waits to be written.
private final class PendingFlag: Sendable {
    private let pending = Mutex(false)

    /// Raises the flag; `true` when it was down (the caller queues the event).
    func raise() -> Bool {
        pending.withLock { pending in
            defer { pending = true }
            return !pending
        }
    }

    func lower() {
        pending.withLock { $0 = false }
    }
}
