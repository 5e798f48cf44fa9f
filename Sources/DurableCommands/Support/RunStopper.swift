import ArgumentParser
import Dispatch
import Durable
import Foundation
import Synchronization

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// Stops the worker on Ctrl-C (first: no new work; second: stop running work)
/// and SIGTERM or SIGHUP (stop running work), and once all work is reported. A request
/// made while no worker runs yet is applied by the next ``apply()``.
final class RunStopper: Sendable {
    private enum Level: Int, Comparable {
        case none, finish, drain, interrupt
        static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }
    }

    private struct State {
        var requested = Level.none
        var applied = Level.none
        var interrupts = 0
        var signal: Int32?
    }

    private let engine: TaskEngine
    /// How messages name the command and its work: `durable run`, `lines`.
    private let command: String
    private let noun: String
    private let state = Mutex(State())

    init(engine: TaskEngine, command: String = "durable run", noun: String = "lines") {
        self.engine = engine
        self.command = command
        self.noun = noun
    }

    /// Whether Ctrl-C or SIGTERM arrived.
    var interrupted: Bool { state.withLock { $0.signal != nil } }

    /// The first interrupting signal.
    var interruptSignal: Int32? { state.withLock { $0.signal } }

    /// Handles a signal; returns what to tell the user.
    func interrupt(by signal: Int32) -> String? {
        let level = state.withLock { state -> Level in
            state.interrupts += 1
            if state.signal == nil { state.signal = signal }
            let level: Level = signal == SIGINT && state.interrupts == 1 ? .drain : .interrupt
            state.requested = max(state.requested, level)
            return level
        }
        apply()
        switch level {
        case .drain:
            return "\(command): stopping: no new \(noun) start; running \(noun) may finish (Ctrl-C again stops them)"
        case .interrupt:
            return "\(command): stopping running \(noun) now; they run again next time"
        case .none, .finish:
            return nil
        }
    }

    /// Every line is reported: let the worker stop.
    func finish() {
        state.withLock { $0.requested = max($0.requested, .finish) }
        apply()
    }

    /// Passes the strongest request on to the worker, if it runs.
    func apply() {
        guard let level = state.withLock({ $0.requested > $0.applied ? $0.requested : nil }) else { return }
        if engine.beginShutdown(gracePeriod: level == .interrupt ? .zero : nil) {
            state.withLock { $0.applied = max($0.applied, level) }
        }
    }
}
