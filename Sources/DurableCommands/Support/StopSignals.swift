import UnixSignals

/// Ctrl-C, SIGTERM and SIGHUP for the commands that run a worker (`run`,
/// `fetch`): each signal goes to a ``RunStopper``, and what it says is shown with
/// `note`. Built on swift-service-lifecycle's `UnixSignalsSequence`.
enum StopSignals {
    /// Traps the signals until the returned task is cancelled.
    static func handle(with stopper: RunStopper, note: @escaping @Sendable (String) -> Void) async -> Task<Void, Never> {
        // SIGHUP (the terminal went away) stops running work, as SIGTERM does.
        let signals = await UnixSignalsSequence(trapping: .sigint, .sigterm, .sighup)
        return Task {
            for await signal in signals {
                if let message = stopper.interrupt(by: signal.rawValue) { note(message) }
            }
        }
    }
}
