import Durable
import Foundation
import Synchronization

/// Named gates that test jobs wait on, opened by the test: ordering without sleeps.
final class Gates: Sendable {
    private struct State {
        var open: Set<String> = []
        var waiters: [String: [CheckedContinuation<Void, any Error>]] = [:]
        var arrived: [String: Int] = [:]
        var arrivalWaiters: [String: [(Int, CheckedContinuation<Void, Never>)]] = [:]
    }

    private let state = Mutex(State())

    func open(_ name: String) {
        let waiters = state.withLock { state in
            state.open.insert(name)
            return state.waiters.removeValue(forKey: name) ?? []
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Waits until the gate opens; throws CancellationError when cancelled.
    func pass(_ name: String) async throws {
        arrive(name)
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let passNow = state.withLock { state -> Result<Void, any Error>? in
                    if state.open.contains(name) { return .success(()) }
                    if Task.isCancelled { return .failure(CancellationError()) }
                    state.waiters[name, default: []].append(continuation)
                    return nil
                }
                if let passNow { continuation.resume(with: passNow) }
            }
        } onCancel: {
            let waiters = state.withLock { $0.waiters.removeValue(forKey: name) ?? [] }
            for waiter in waiters { waiter.resume(throwing: CancellationError()) }
        }
    }

    private func arrive(_ name: String) {
        let ready = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.arrived[name, default: 0] += 1
            let count = state.arrived[name, default: 0]
            let (due, rest) = (state.arrivalWaiters[name] ?? []).reduce(into: ([CheckedContinuation<Void, Never>](), [(Int, CheckedContinuation<Void, Never>)]())) {
                if $1.0 <= count { $0.0.append($1.1) } else { $0.1.append($1) }
            }
            state.arrivalWaiters[name] = rest
            return due
        }
        for continuation in ready { continuation.resume() }
    }

    /// Waits until `count` jobs have reached the gate.
    func waitForArrivals(_ name: String, count: Int = 1) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let now = state.withLock { state -> Bool in
                if state.arrived[name, default: 0] >= count { return true }
                state.arrivalWaiters[name, default: []].append((count, continuation))
                return false
            }
            if now { continuation.resume() }
        }
    }

    func arrivals(_ name: String) -> Int { state.withLock { $0.arrived[name, default: 0] } }
}

/// Counts runs per key, to tell recomputation apart from stored answers.
final class RunCounter: Sendable {
    private let counts = Mutex<[String: Int]>([:])
    func record(_ key: String) { counts.withLock { $0[key, default: 0] += 1 } }
    func count(_ key: String) -> Int { counts.withLock { $0[key, default: 0] } }
    var total: Int { counts.withLock { $0.values.reduce(0, +) } }
}

struct TestFailure: Error, CustomStringConvertible {
    var reason: String
    var description: String { "test failure: \(reason)" }
}

/// Returns its input.
struct Echo: Job {
    static let name = "echo"
    let counter: RunCounter
    func run(_ input: String, context: TaskContext) async throws -> String {
        counter.record(input)
        return input
    }
}

/// Doubles a number.
struct Doubler: Job {
    static let name = "double"
    func run(_ input: Int, context: TaskContext) async throws -> Int { input * 2 }
}

/// Throws TestFailure with its input as the reason.
struct Fail: Job {
    static let name = "fail"
    func run(_ input: String, context: TaskContext) async throws -> String {
        throw TestFailure(reason: input)
    }
}

/// Waits at the gate named by its input, then returns the input.
struct WaitAtGate: Job {
    static let name = "wait-at-gate"
    let gates: Gates
    func run(_ input: String, context: TaskContext) async throws -> String {
        try await gates.pass(input)
        return input
    }
}

/// Waits at a gate, then fails or succeeds as its input says.
struct GateThenFail: Job {
    static let name = "gate-then-fail"
    let gates: Gates
    func run(_ input: String, context: TaskContext) async throws -> String {
        try await gates.pass(input)
        throw TestFailure(reason: input)
    }
}

/// Ignores cancellation once: waits at its gate, catches the cancellation,
/// and returns "ignored".
struct IgnoreCancel: Job {
    static let name = "ignore-cancel"
    let gates: Gates
    func run(_ input: String, context: TaskContext) async throws -> String {
        do {
            try await gates.pass(input)
            return "opened"
        } catch {
            return "ignored"
        }
    }
}

/// Returns the task's context values and name, as seen from inside.
struct ReadContext: Job {
    static let name = "read-context"
    func run(_ input: String, context: TaskContext) async throws -> [String: String] {
        var values = context.values
        values["_name"] = context.name
        values["_id"] = "\(context.taskID)"
        if let completed = context.completedTaskID { values["_completed"] = "\(completed)" }
        return values
    }
}

/// Records, for a done callback, which task finished, in a shared log.
struct RecordCallback: Job {
    static let name = "record-callback"
    let log: CallbackLog
    func run(_ input: String, context: TaskContext) async throws -> String {
        log.append("\(input):\(context.completedTaskID.map { "\($0)" } ?? "-")")
        return input
    }
}

final class CallbackLog: Sendable {
    private let entries = Mutex<[String]>([])
    func append(_ entry: String) { entries.withLock { $0.append(entry) } }
    var all: [String] { entries.withLock { $0 } }
}

/// Awaits its own task (which must fail).
struct AwaitSelf: Job {
    static let name = "await-self"
    func run(_ input: String, context: TaskContext) async throws -> String {
        let me = try await context.engine.task(id: context.taskID, as: AwaitSelf.self)
        return try await me.value
    }
}

/// Creates a child task without a context, and returns the child's view of it.
struct SpawnReader: Job {
    static let name = "spawn-reader"
    func run(_ input: String, context: TaskContext) async throws -> [String: String] {
        let child = try await context.engine.createTask(ReadContext.self, "child")
        return try await child.value
    }
}

func registerTestJobs(on engine: TaskEngine, gates: Gates, counter: RunCounter = RunCounter(), log: CallbackLog = CallbackLog()) {
    engine.register(Echo(counter: counter))
    engine.register(Doubler())
    engine.register(Fail())
    engine.register(WaitAtGate(gates: gates))
    engine.register(GateThenFail(gates: gates))
    engine.register(IgnoreCancel(gates: gates))
    engine.register(ReadContext())
    engine.register(RecordCallback(log: log))
    engine.register(AwaitSelf())
    engine.register(SpawnReader())
    engine.register(Flaky(counter: counter))
    engine.register(Refuses())
}

/// Fails (retryably) until it has run `failures + 1` times for its input, then
/// returns the number of runs. The input is "<name>:<failures>".
struct Flaky: Job {
    static let name = "flaky"
    let counter: RunCounter
    func run(_ input: String, context: TaskContext) async throws -> Int {
        counter.record(input)
        let runs = counter.count(input)
        let failures = Int(input.split(separator: ":").last ?? "0") ?? 0
        if runs <= failures { throw TestFailure(reason: "\(input) run \(runs)") }
        return runs
    }
}

/// Throws a NonRetryableError.
struct Refuses: Job {
    static let name = "refuses"
    static let retryPolicy = RetryPolicy.exponentialJitter(maxAttempts: 5, initialDelay: .seconds(1), jitter: 0)
    func run(_ input: String, context: TaskContext) async throws -> String {
        throw NonRetryableError("refused \(input)")
    }
}
